/*
 * switch.c -- backup_restore.json, the backup partition's switch of the
 * feature ({"enable": 1}), read by QuecPython's rules.
 */
#include "fsg_internal.h"

#include <cjson/cJSON.h>

int fsg_switch_read(struct fsg_ctx *c, int *err)
{
    char *text;
    size_t len;
    int feature;

    *err = fsg_read_small(c, c->bak, FSG_SWITCH_NAME, FSG_SWITCH_MAX, &text, &len);
    if (*err == FSG_ERR_NOENT)
        return FSG_FEATURE_NO_SWITCH;
    if (*err < 0)
        return FSG_FEATURE_BAD_SWITCH;
    cJSON *root = cJSON_ParseWithLength(text, len);
    cJSON *en = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "enable") : NULL;
    if (en == NULL) {
        feature = FSG_FEATURE_BAD_SWITCH;
        *err = FSG_ERR_CORRUPT;
    } else if (cJSON_IsFalse(en) || (cJSON_IsNumber(en) && en->valuedouble == 0)) {
        feature = FSG_FEATURE_DISABLED;
    } else {
        /* QuecPython's rule (backup_restore.py: flag != 0): anything but
         * 0 or false enables, "1" and null included. */
        feature = FSG_FEATURE_ENABLED;
    }
    cJSON_Delete(root);
    fsg_free(c, text);
    return feature;
}
