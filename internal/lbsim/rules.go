package lbsim

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Clouds the simulator knows, in the clouds' own terms.
const (
	Azure = "azure" // Standard internal load balancer, Floating IP on
	GCP   = "gcp"   // internal passthrough Network Load Balancer
	AWS   = "aws"   // Network Load Balancer
)

// AzureProbe6 is the source of Azure's IPv6 health probes, a link-local
// address sent to the backend NIC's global IPv6 address
// (https://learn.microsoft.com/en-us/azure/load-balancer/load-balancer-custom-probe-overview).
var AzureProbe6 = netip.MustParseAddr("fe80::1234:5678:9abc")

// Rules are one cloud's load-balancer behaviour where it decides whether a
// VIP fails over safely.
type Rules struct {
	Cloud string
	// ProbeToVIP: health checks are addressed to the frontend IP (Google
	// Cloud sends them to the forwarding rule's IP,
	// https://cloud.google.com/load-balancing/docs/health-check-concepts, "Destination for probe packets");
	// otherwise to the backend's own address (Azure, AWS).
	ProbeToVIP bool
	// FloatingIP: the VIP's packets reach the backend with the VIP as
	// destination (Azure's Floating IP; Google Cloud's passthrough load
	// balancer always does). AWS's Network Load Balancer has none: the
	// target receives the traffic at its own address
	// (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-target-groups.html).
	FloatingIP bool
	// HTTPOK is the HTTP success rule: 200 only (Azure, Google Cloud) or
	// 200-399 (an AWS target group's default matcher,
	// https://docs.aws.amazon.com/elasticloadbalancing/latest/network/target-group-health-checks.html).
	HTTPOK func(code int) bool
	// FailFastHTTP: an HTTP answer other than 200 takes a healthy backend
	// down at once, while timeouts and refusals count toward the threshold
	// (Azure's probe, load-balancer-custom-probe-overview).
	FailFastHTTP bool
	// ToAllWhenNoneHealthy: with no healthy backend, new connections go to
	// every backend instead of being dropped: Azure's
	// NoHealthyBackendsBehavior AllProbedUp (the default AllProbedDown
	// drops), Google Cloud without a failover policy with
	// dropTrafficIfUnhealthy
	// (https://cloud.google.com/load-balancing/docs/internal/int-netlb-traffic-distribution),
	// and always AWS, which fails open.
	ToAllWhenNoneHealthy bool
	// Why names the setting behind ToAllWhenNoneHealthy, for events.
	Why string
	// UserAgent of HTTP probes, as the cloud sends it.
	UserAgent string
}

// Probe are a cloud's default probe timing, what the simulator takes when
// Config leaves it unset.
type Probe struct {
	Interval           time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
}

// Defaults are the cloud's documented probe defaults. Azure: an interval
// of 5 s (load-balancer-custom-probe-overview) and one probeThreshold for
// both directions, 2 here. Google Cloud: 5 s, healthy and unhealthy
// thresholds 2 (https://cloud.google.com/load-balancing/docs/health-check-concepts).
// AWS: 30 s, healthy 5 and unhealthy 2 for a TCP or HTTP target group
// (HealthyThresholdCount and UnhealthyThresholdCount of
// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html).
func Defaults(cloud string) Probe {
	switch strings.ToLower(cloud) {
	case AWS:
		return Probe{Interval: 30 * time.Second, HealthyThreshold: 5, UnhealthyThreshold: 2}
	case GCP:
		return Probe{Interval: 5 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2}
	}
	return Probe{Interval: 5 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2}
}

func only200(code int) bool      { return code == 200 }
func from200to399(code int) bool { return code >= 200 && code <= 399 }

// rules works out the cloud's rules from cfg (cloud already checked).
func (c *Config) rules() Rules {
	switch c.Cloud {
	case GCP:
		r := Rules{Cloud: GCP, ProbeToVIP: true, FloatingIP: true, HTTPOK: only200, UserAgent: "GoogleHC/1.0"}
		if !c.DropTrafficIfUnhealthy {
			r.ToAllWhenNoneHealthy, r.Why = true, "no failover policy with dropTrafficIfUnhealthy"
		}
		return r
	case AWS:
		return Rules{Cloud: AWS, HTTPOK: from200to399, ToAllWhenNoneHealthy: true, Why: "the Network Load Balancer fails open",
			UserAgent: "ELB-HealthChecker/2.0"}
	}
	r := Rules{Cloud: Azure, FloatingIP: true, HTTPOK: only200, FailFastHTTP: true, UserAgent: "Load Balancer Agent"}
	if c.NoHealthyBackendsBehavior == AllProbedUp {
		r.ToAllWhenNoneHealthy, r.Why = true, "NoHealthyBackendsBehavior AllProbedUp"
	}
	return r
}

// Azure's NoHealthyBackendsBehavior values
// (https://learn.microsoft.com/en-us/dotnet/api/azure.resourcemanager.network.models.probenohealthybackendsbehavior).
const (
	AllProbedDown = "AllProbedDown" // default: no new flows while every probe is down
	AllProbedUp   = "AllProbedUp"   // every instance gets new flows while every probe is down
)

// checkCloud validates the cloud and its options.
func (c *Config) checkCloud() error {
	switch c.Cloud = strings.ToLower(c.Cloud); c.Cloud {
	case "":
		c.Cloud = Azure
	case Azure, GCP, AWS:
	default:
		return fmt.Errorf("cloud %q: use azure, gcp or aws", c.Cloud)
	}
	switch {
	case c.NoHealthyBackendsBehavior == "":
		if c.Cloud == Azure {
			c.NoHealthyBackendsBehavior = AllProbedDown
		}
	case c.Cloud != Azure:
		return fmt.Errorf("NoHealthyBackendsBehavior is Azure's setting: leave it empty for %s", c.Cloud)
	case !strings.EqualFold(c.NoHealthyBackendsBehavior, AllProbedDown) && !strings.EqualFold(c.NoHealthyBackendsBehavior, AllProbedUp):
		return fmt.Errorf("NoHealthyBackendsBehavior %q: use %s or %s", c.NoHealthyBackendsBehavior, AllProbedDown, AllProbedUp)
	case strings.EqualFold(c.NoHealthyBackendsBehavior, AllProbedUp):
		c.NoHealthyBackendsBehavior = AllProbedUp
	default:
		c.NoHealthyBackendsBehavior = AllProbedDown
	}
	if c.DropTrafficIfUnhealthy && c.Cloud != GCP {
		return fmt.Errorf("dropTrafficIfUnhealthy is a Google Cloud failover policy's setting: not for %s", c.Cloud)
	}
	if c.Cloud == AWS && len(c.Listeners) == 0 {
		return fmt.Errorf("aws: give the Network Load Balancer's listener ports (the ports clients connect to), for example 80")
	}
	return nil
}
