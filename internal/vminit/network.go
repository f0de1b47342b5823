//go:build linux

package vminit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
)

// Network is the VM's network configuration. An empty IP means DHCP.
type Network struct {
	IP, Netmask, Gateway string // dotted quads; Gateway optional

	// LinkWait bounds the wait for a network interface to appear
	// (default 15 s); DHCPAttempts is how many DHCP exchanges are tried
	// (default 5), each with DHCPTimeout per packet (default 3 s).
	LinkWait     time.Duration
	DHCPAttempts int
	DHCPTimeout  time.Duration
}

// Lease describes the address configured.
type Lease struct {
	Interface string
	Addr      netip.Prefix
	Gateway   netip.Addr // invalid when there is none
	DNS       []netip.Addr
	Method    string // "dhcp" or "static"
}

func (l *Lease) String() string {
	s := fmt.Sprintf("%s: %s", l.Interface, l.Addr)
	if l.Gateway.IsValid() {
		s += " via " + l.Gateway.String()
	}
	return s + " (" + l.Method + ")"
}

// CmdlineOverrides applies certseal.ip=, certseal.nm=, certseal.gw= and
// certseal.net=dhcp from the kernel command line (/proc/cmdline) to n, so a
// VM's address can be changed in the xl config or launcher without
// resealing.
func CmdlineOverrides(n Network) Network {
	for _, f := range strings.Fields(readFileTrim("/proc/cmdline")) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "certseal.ip":
			n.IP = v
		case "certseal.nm":
			n.Netmask = v
		case "certseal.gw":
			n.Gateway = v
		case "certseal.net":
			if v == "dhcp" {
				n.IP, n.Netmask, n.Gateway = "", "", ""
			}
		}
	}
	return n
}

// ConfigureNetwork brings up lo and the first Ethernet interface, then
// configures it statically or by DHCP. A DHCP lease is renewed in the
// background for as long as ctx lives. It returns an error, meant for the
// console, when no interface appears, the static settings are invalid, or
// DHCP gets no lease after all attempts.
func ConfigureNetwork(ctx context.Context, n Network) (*Lease, error) {
	if n.LinkWait == 0 {
		n.LinkWait = 15 * time.Second
	}
	if n.DHCPAttempts == 0 {
		n.DHCPAttempts = 5
	}
	if n.DHCPTimeout == 0 {
		n.DHCPTimeout = 3 * time.Second
	}
	if lo, err := netlink.LinkByName("lo"); err == nil {
		netlink.LinkSetUp(lo)
	}
	link, err := waitForLink(ctx, n.LinkWait)
	if err != nil {
		return nil, err
	}
	name := link.Attrs().Name
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("bringing up %s: %v", name, err)
	}
	if n.IP != "" {
		prefix, gw, err := ParseStatic(n.IP, n.Netmask, n.Gateway)
		if err != nil {
			return nil, err
		}
		l := &Lease{Interface: name, Addr: prefix, Gateway: gw, Method: "static"}
		return l, apply(link, l)
	}
	return dhcp(ctx, link, n)
}

// ParseStatic validates a static configuration: ip and netmask are
// required IPv4 dotted quads, the netmask contiguous, gw optional and
// inside the subnet. Its errors name the offending value.
func ParseStatic(ip, netmask, gw string) (netip.Prefix, netip.Addr, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("invalid IPv4 address %q", ip)
	}
	if netmask == "" {
		return netip.Prefix{}, netip.Addr{}, errors.New("a static address needs a netmask")
	}
	ones, err := parseNetmask(netmask)
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, err
	}
	p := netip.PrefixFrom(a, ones)
	var g netip.Addr
	if gw != "" {
		g, err = netip.ParseAddr(gw)
		if err != nil || !g.Is4() {
			return netip.Prefix{}, netip.Addr{}, fmt.Errorf("invalid gateway %q", gw)
		}
		if !p.Masked().Contains(g) || g == a {
			return netip.Prefix{}, netip.Addr{}, fmt.Errorf("gateway %s is not another address in %s", g, p.Masked())
		}
	}
	return p, g, nil
}

// parseNetmask accepts a dotted quad (255.255.255.0) or a prefix length
// (24) and returns the prefix length, 1 to 32.
func parseNetmask(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 32 {
			return 0, fmt.Errorf("invalid netmask %q (prefix length must be 1 to 32)", s)
		}
		return n, nil
	}
	m, err := netip.ParseAddr(s)
	if err != nil || !m.Is4() {
		return 0, fmt.Errorf("invalid netmask %q", s)
	}
	mb := m.As4()
	ones, bits := net.IPMask(mb[:]).Size()
	if bits == 0 || ones == 0 {
		return 0, fmt.Errorf("invalid netmask %q (not contiguous)", s)
	}
	return ones, nil
}

func waitForLink(ctx context.Context, wait time.Duration) (netlink.Link, error) {
	deadline := time.Now().Add(wait)
	for {
		links, err := netlink.LinkList()
		if err == nil {
			var eth []netlink.Link
			for _, l := range links {
				if a := l.Attrs(); a.Name != "lo" && a.EncapType == "ether" && l.Type() == "device" {
					eth = append(eth, l)
				}
			}
			if len(eth) > 0 {
				sort.Slice(eth, func(i, j int) bool { return eth[i].Attrs().Index < eth[j].Attrs().Index })
				return eth[0], nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no network interface appeared within %v (is the VM given a NIC, and its driver in the image?)", wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func apply(link netlink.Link, l *Lease) error {
	addr := &netlink.Addr{IPNet: &net.IPNet{
		IP:   net.IP(l.Addr.Addr().AsSlice()),
		Mask: net.CIDRMask(l.Addr.Bits(), 32),
	}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("setting %s on %s: %v", l.Addr, l.Interface, err)
	}
	if l.Gateway.IsValid() {
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: net.IP(l.Gateway.AsSlice())}
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("adding the default route via %s: %v", l.Gateway, err)
		}
	}
	if len(l.DNS) > 0 {
		var b strings.Builder
		for _, d := range l.DNS {
			fmt.Fprintf(&b, "nameserver %s\n", d)
		}
		os.WriteFile("/etc/resolv.conf", []byte(b.String()), 0o644)
	}
	return nil
}

func dhcp(ctx context.Context, link netlink.Link, n Network) (*Lease, error) {
	name := link.Attrs().Name
	var lastErr error
	for attempt := 1; attempt <= n.DHCPAttempts; attempt++ {
		c, err := nclient4.New(name, nclient4.WithTimeout(n.DHCPTimeout), nclient4.WithRetry(2))
		if err != nil {
			return nil, fmt.Errorf("DHCP on %s: %v", name, err)
		}
		lease, err := c.Request(ctx)
		if err == nil {
			l, err := leaseFrom(name, lease.ACK)
			if err == nil {
				err = apply(link, l)
			}
			if err != nil {
				c.Close()
				return nil, err
			}
			go renew(ctx, c, lease)
			return l, nil
		}
		c.Close()
		lastErr = err
		Logger.Printf("DHCP on %s: no lease (attempt %d of %d): %v", name, attempt, n.DHCPAttempts, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("DHCP on %s failed after %d attempts: %v (no DHCP server on this network? seal with --ip, --nm and --gw for a static address)", name, n.DHCPAttempts, lastErr)
}

func leaseFrom(name string, ack *dhcpv4.DHCPv4) (*Lease, error) {
	a, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || !a.IsValid() || a.IsUnspecified() {
		return nil, fmt.Errorf("DHCP on %s: the server offered no address", name)
	}
	mask := ack.SubnetMask()
	if mask == nil {
		mask = ack.YourIPAddr.DefaultMask()
	}
	ones, _ := mask.Size()
	l := &Lease{Interface: name, Addr: netip.PrefixFrom(a, ones), Method: "dhcp"}
	for _, r := range ack.Router() {
		if g, ok := netip.AddrFromSlice(r.To4()); ok {
			l.Gateway = g
			break
		}
	}
	for _, d := range ack.DNS() {
		if g, ok := netip.AddrFromSlice(d.To4()); ok {
			l.DNS = append(l.DNS, g)
		}
	}
	return l, nil
}

// renew renews the lease at half its lifetime, retrying every minute
// while the server does not answer.
func renew(ctx context.Context, c *nclient4.Client, lease *nclient4.Lease) {
	defer c.Close()
	for {
		d := lease.ACK.IPAddressLeaseTime(time.Hour) / 2
		if d < time.Minute {
			d = time.Minute
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		for {
			nl, err := c.Renew(ctx, lease)
			if err == nil {
				lease = nl
				break
			}
			Logger.Printf("DHCP renewal: %v", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Minute):
			}
		}
	}
}
