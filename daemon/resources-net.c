/* The `network` section of GET /1.0/resources: physical network cards and their ports, from
 * sysfs and the ethtool ioctls (LXD's lxd/resources/network.go and network_ethtool.go). */
#include <errno.h>
#include <limits.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "daemon/resources-internal.h"
#include "daemon/sysfs.h"
#include "lib/json.h"
#include "lib/str.h"

/* Last: it poisons unsafe functions in the code below, not in the headers above. */
#include "lib/banned.h"

#define SYS_CLASS_NET "/sys/class/net"
/* The kernel's MAX_ADDR_LEN: the longest hardware address. */
#define PERM_ADDR_MAX 32

/* ETHTOOL_LINK_MODE_* bits LXD names, in its order. */
static const struct {
	unsigned bit;
	const char *name;
} ethtool_modes[] = {
	{ 0, "10baseT/Half" },
	{ 1, "10baseT/Full" },
	{ 2, "100baseT/Half" },
	{ 3, "100baseT/Full" },
	{ 4, "1000baseT/Half" },
	{ 5, "1000baseT/Full" },
	{ 12, "10000baseT/Full" },
	{ 15, "2500baseX/Full" },
	{ 17, "1000baseKX/Full" },
	{ 18, "10000baseKX4/Full" },
	{ 19, "10000baseKR/Full" },
	{ 21, "20000baseMLD2/Full" },
	{ 22, "20000baseKR2/Full" },
	{ 23, "40000baseKR4/Full" },
	{ 24, "40000baseCR4/Full" },
	{ 25, "40000baseSR4/Full" },
	{ 26, "40000baseLR4/Full" },
	{ 27, "56000baseKR4/Full" },
	{ 28, "56000baseCR4/Full" },
	{ 29, "56000baseSR4/Full" },
	{ 30, "56000baseLR4/Full" },
	{ 31, "25000baseCR/Full" },
	{ 32, "25000baseKR/Full" },
	{ 33, "25000baseSR/Full" },
	{ 34, "50000baseCR2/Full" },
	{ 35, "50000baseKR2/Full" },
	{ 36, "100000baseKR4/Full" },
	{ 37, "100000baseSR4/Full" },
	{ 38, "100000baseCR4/Full" },
	{ 39, "100000baseLR4_ER4/Full" },
	{ 40, "50000baseSR2/Full" },
	{ 41, "1000baseX/Full" },
	{ 42, "10000baseCR/Full" },
	{ 43, "10000baseSR/Full" },
	{ 44, "10000baseLR/Full" },
	{ 45, "10000baseLRM/Full" },
	{ 46, "10000baseER/Full" },
	{ 47, "2500baseT/Full" },
	{ 48, "5000baseT/Full" },
}, ethtool_ports[] = {
	{ 7, "twisted pair" }, { 8, "AUI" },  { 9, "media-independent" },
	{ 10, "fibre" },       { 11, "BNC" }, { 16, "backplane" },
};

struct port_link {
	bool link_detected;
	bool have_settings; /* the driver answered GLINKSETTINGS or GSET */
	bool auto_negotiation;
	uint64_t speed;		 /* Mbit/s, 0 when unknown or no link */
	const char *duplex;	 /* NULL when unknown or no link */
	const char *port_type;	 /* NULL when unknown */
	const char *transceiver; /* NULL when unknown */
	uint32_t supported[2];	 /* the first 64 link mode bits: all the tables above use */
};

static int ethtool_call(int fd, const char *ifname, void *data)
{
	struct ifreq ifr = { 0 };

	if (!snprintf_ok(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname))
		return -ENAMETOOLONG;
	ifr.ifr_data = data;

	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		return -errno;
	return 0;
}

static const char *port_type_name(uint8_t port)
{
	switch (port) {
	case PORT_TP:
		return "twisted pair";
	case PORT_AUI:
		return "AUI";
	case PORT_MII:
		return "media-independent";
	case PORT_FIBRE:
		return "fibre";
	case PORT_BNC:
		return "BNC";
	case PORT_DA:
		return "direct attach";
	case PORT_NONE:
		return "none";
	case PORT_OTHER:
		return "other";
	default:
		return NULL;
	}
}

static void link_set_common(struct port_link *link, uint8_t autoneg, uint8_t duplex, uint64_t speed,
			    uint8_t port, uint8_t transceiver)
{
	link->have_settings = true;
	link->auto_negotiation = autoneg == AUTONEG_ENABLE;
	if (link->link_detected) {
		if (duplex == DUPLEX_HALF)
			link->duplex = "half";
		else if (duplex == DUPLEX_FULL)
			link->duplex = "full";
		link->speed = speed;
	}
	if (transceiver == XCVR_INTERNAL)
		link->transceiver = "internal";
	else if (transceiver == XCVR_EXTERNAL)
		link->transceiver = "external";
	link->port_type = port_type_name(port);
}

/* ETHTOOL_GLINKSETTINGS, which needs a handshake: asked with no mask words, the kernel
 * answers with the number it uses, negated. */
static int ethtool_link_settings(int fd, const char *ifname, struct port_link *link)
{
	size_t size = sizeof(struct ethtool_link_settings) + sizeof(uint32_t) * 3 * SCHAR_MAX;
	autofree struct ethtool_link_settings *ls = xcalloc(1, size);
	int8_t nwords;
	int r;

	ls->cmd = ETHTOOL_GLINKSETTINGS;
	r = ethtool_call(fd, ifname, ls);
	if (r < 0)
		return r;
	if (ls->link_mode_masks_nwords >= 0 || ls->cmd != ETHTOOL_GLINKSETTINGS)
		return -EINVAL;
	nwords = (int8_t)-ls->link_mode_masks_nwords;

	*ls = (struct ethtool_link_settings){
		.cmd = ETHTOOL_GLINKSETTINGS,
		.link_mode_masks_nwords = nwords,
	};
	r = ethtool_call(fd, ifname, ls);
	if (r < 0)
		return r;
	if (ls->link_mode_masks_nwords <= 0 || ls->cmd != ETHTOOL_GLINKSETTINGS)
		return -EINVAL;

	/* The first of the three masks is "supported". SPEED_UNKNOWN is (u32)-1. */
	link_set_common(link, ls->autoneg, ls->duplex, ls->speed == UINT32_MAX ? 0 : ls->speed,
			ls->port, ls->transceiver);
	link->supported[0] = ls->link_mode_masks[0];
	if (ls->link_mode_masks_nwords > 1)
		link->supported[1] = ls->link_mode_masks[1];
	return 0;
}

/* The older ETHTOOL_GSET, for drivers without link settings. */
static int ethtool_gset(int fd, const char *ifname, struct port_link *link)
{
	struct ethtool_cmd cmd = { .cmd = ETHTOOL_GSET };
	uint32_t speed;
	int r;

	r = ethtool_call(fd, ifname, &cmd);
	if (r < 0)
		return r;

	speed = ethtool_cmd_speed(&cmd);
	link_set_common(link, cmd.autoneg, cmd.duplex,
			speed == UINT16_MAX || speed == UINT32_MAX ? 0 : speed, cmd.port,
			cmd.transceiver);
	link->supported[0] = cmd.supported;
	return 0;
}

/* The permanent MAC address, NULL when the driver has none to tell. */
static char *ethtool_perm_addr(int fd, const char *ifname)
{
	autofree struct ethtool_perm_addr *pa = xcalloc(1, sizeof(*pa) + PERM_ADDR_MAX);
	struct strbuf sb = STRBUF_INIT;
	bool zero = true;

	pa->cmd = ETHTOOL_GPERMADDR;
	pa->size = PERM_ADDR_MAX;
	if (ethtool_call(fd, ifname, pa) < 0 || pa->size == 0 || pa->size > PERM_ADDR_MAX)
		return NULL;

	for (uint32_t i = 0; i < pa->size; i++) {
		strbuf_addf(&sb, "%s%02x", i ? ":" : "", pa->data[i]);
		if (pa->data[i])
			zero = false;
	}
	if (zero) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

static void ethtool_port_read(int fd, const char *ifname, struct port_link *link)
{
	struct ethtool_value value = { .cmd = ETHTOOL_GLINK };

	if (ethtool_call(fd, ifname, &value) == 0)
		link->link_detected = value.data == 1;

	if (ethtool_link_settings(fd, ifname, link) < 0)
		(void)ethtool_gset(fd, ifname, link);
}

static char *ethtool_firmware_version(int fd, const char *ifname)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };

	if (ethtool_call(fd, ifname, &info) < 0)
		return NULL;

	return xstrndup(info.fw_version, strnlen(info.fw_version, sizeof(info.fw_version)));
}

static bool bit_is_set(const uint32_t *mask, unsigned bit)
{
	return bit < 64 && (mask[bit / 32] & (1U << (bit % 32))) != 0;
}

static const char *protocol_name(uint64_t type)
{
	switch (type) {
	case 1:
		return "ethernet";
	case 19:
		return "ATM";
	case 32:
		return "infiniband";
	default:
		return "unknown";
	}
}

static json_t *port_json(int fd, const char *net, const char *ifname, bool is_vf)
{
	autofree char *path = sysfs_path(net, ifname);
	autofree char *address = sysfs_read_str(path, "address");
	autofree char *perm = NULL;
	struct port_link link = { 0 };
	uint64_t type, dev_port = 0;
	json_t *port = json_object();

	/* Settings of the physical port mean nothing for a virtual function. */
	if (!is_vf && fd >= 0) {
		ethtool_port_read(fd, ifname, &link);
		perm = ethtool_perm_addr(fd, ifname);
	}
	(void)sysfs_read_u64(path, "dev_port", &dev_port);

	res_put_str(port, "id", ifname);
	res_put_str_nonempty(port, "address", perm ? perm : address);
	res_put_u64(port, "port", dev_port);
	if (sysfs_read_u64(path, "type", &type) == 0)
		res_put_str(port, "protocol", protocol_name(type));
	else
		res_put_str(port, "protocol", "");
	if (link.have_settings) {
		json_t *modes = json_array();
		json_t *ports = json_array();

		for (size_t i = 0; i < ARRAY_SIZE(ethtool_modes); i++)
			if (bit_is_set(link.supported, ethtool_modes[i].bit))
				(void)json_array_append_new(modes,
							    json_string(ethtool_modes[i].name));
		for (size_t i = 0; i < ARRAY_SIZE(ethtool_ports); i++)
			if (bit_is_set(link.supported, ethtool_ports[i].bit))
				(void)json_array_append_new(ports,
							    json_string(ethtool_ports[i].name));

		res_put_array_nonempty(port, "supported_modes", modes);
		res_put_array_nonempty(port, "supported_ports", ports);
	}
	res_put_str_nonempty(port, "port_type", link.port_type);
	res_put_str_nonempty(port, "transceiver_type", link.transceiver);
	res_put_bool(port, "auto_negotiation", link.auto_negotiation);
	res_put_bool(port, "link_detected", link.link_detected);
	res_put_u64_nonzero(port, "link_speed", link.speed);
	res_put_str_nonempty(port, "link_duplex", link.duplex);
	return port;
}

/* One card from its device directory (the netdev's "device", or a PCI function). */
static json_t *card_json(const struct resources_ctx *ctx, const char *device,
			 const char *pci_address)
{
	autofree char *net = sysfs_path(device, "net");
	autofree char *firmware = NULL;
	autofree char *usb_address = resources_usb_address(device);
	autoclean(sysfs_list_freep) char **ifnames = NULL;
	autoclose int fd = -1;
	struct device_info info;
	bool is_vf = sysfs_exists(device, "physfn");
	json_t *card = json_object();
	json_t *ports = NULL;

	resources_device_read(ctx, device, true, &info);

	if (sysfs_list(net, &ifnames) >= 0) {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ports = json_array();
		for (char **i = ifnames; *i; i++)
			(void)json_array_append_new(ports, port_json(fd, net, *i, is_vf));
		if (ifnames[0] && fd >= 0)
			firmware = ethtool_firmware_version(fd, ifnames[0]);
	}

	res_put_str_nonempty(card, "driver", info.driver);
	res_put_str_nonempty(card, "driver_version", info.driver_version);
	res_put_array_nonempty(card, "ports", ports);
	res_put_new(card, "sriov", resources_sriov_json(&info));
	res_put_u64(card, "numa_node", info.numa_node);
	res_put_str_nonempty(card, "pci_address", pci_address);
	res_put_str_nonempty(card, "vendor", info.vendor);
	res_put_str_nonempty(card, "vendor_id", info.vendor_id);
	res_put_str_nonempty(card, "product", info.product);
	res_put_str_nonempty(card, "product_id", info.product_id);
	res_put_str_nonempty(card, "firmware_version", firmware);
	res_put_str_nonempty(card, "usb_address", usb_address);

	resources_device_release(&info);
	return card;
}

/* Physical functions go to cards; virtual functions wait in vfs for their parent. */
static void card_add(json_t *cards, json_t *vfs, const char *device, json_t *card)
{
	autofree char *parent = NULL;
	json_t *vf;

	if (!sysfs_exists(device, "physfn")) {
		(void)json_array_append_new(cards, card);
		return;
	}

	parent = sysfs_link_name(device, "physfn");
	vf = json_object();
	res_put_str(vf, "parent", parent);
	res_put_new(vf, "card", card);
	(void)json_array_append_new(vfs, vf);
}

int resources_network_get(const struct resources_ctx *ctx, json_t **ret, struct error *err)
{
	autoclean(sysfs_list_freep) char **netdevs = NULL;
	autoclean(sysfs_list_freep) char **functions = NULL;
	autojson json_t *known = json_object(); /* PCI addresses already described */
	autojson json_t *vfs = json_array();
	json_t *cards, *network;
	uint64_t total;
	int r;

	r = resources_list(SYS_CLASS_NET, &netdevs, err);
	if (r < 0)
		return r;
	r = resources_list(SYS_BUS_PCI, &functions, err);
	if (r < 0)
		return r;

	/* Cards with a driver show up as network interfaces; only physical ones have a
	 * "device". */
	cards = json_array();
	for (char **e = netdevs; *e; e++) {
		autofree char *path = sysfs_path(SYS_CLASS_NET, *e);
		autofree char *device = sysfs_path(path, "device");
		autofree char *pci_address = NULL;

		if (!sysfs_exists(path, "device"))
			continue;

		/* Ports of one card share its PCI function: describe it once. */
		pci_address = resources_pci_address(device);
		if (pci_address) {
			if (json_object_get(known, pci_address))
				continue;
			(void)json_object_set_new(known, pci_address, json_true());
		}

		card_add(cards, vfs, device, card_json(ctx, device, pci_address));
	}

	/* Then the network controllers no driver claimed. */
	for (char **e = functions; *e; e++) {
		autofree char *device = sysfs_path(SYS_BUS_PCI, *e);
		autofree char *class = NULL;

		if (json_object_get(known, *e))
			continue;
		class = sysfs_read_str(device, "class");
		if (!class || !str_has_prefix(class, "0x02"))
			continue;

		card_add(cards, vfs, device, card_json(ctx, device, *e));
	}

	total = resources_cards_attach_vfs(cards, vfs);
	network = json_object();
	res_put_new(network, "cards", cards);
	res_put_u64(network, "total", total);
	*ret = network;
	return 0;
}
