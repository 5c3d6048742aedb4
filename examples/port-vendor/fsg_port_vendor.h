/*
 * fsg_port_vendor.h -- the worked example of docs/PORTING.md: an fsguard
 * storage port over a vendor's file-system SDK (vendor_fs.h).
 */
#ifndef FSG_PORT_VENDOR_H
#define FSG_PORT_VENDOR_H

#include "fsguard.h"

struct fsg_vendor_port {
    struct fsg_port port;   /* hand &port to struct fsg_config */
    const char *mount;      /* where the partition is mounted: "/usr", "/bak" */
    int readonly;
};

/* Fills vp for the partition mounted at mount. With readonly, every
 * writing callback is left NULL (the backup partition needs none). */
void fsg_vendor_port_init(struct fsg_vendor_port *vp, const char *mount, int readonly);

#endif
