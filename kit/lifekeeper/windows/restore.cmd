@rem LifeKeeper for Windows: runs restore.exe with LifeKeeper's arguments (-t TAG -i ID) and returns its exit code.
@rem Two lines: cmd expands %ERRORLEVEL% when it reads a line, before that line runs.
@"%~dp0..\restore.exe" %*
@exit /b %ERRORLEVEL%
