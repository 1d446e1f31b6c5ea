/* status.c - names for img_status_t values. */
#include "common/status.h"

const char *img_status_str(int status) {
    switch (status) {
    case IMG_OK: return "ok";
    case IMG_EINVAL: return "invalid argument";
    case IMG_ENOMEM: return "out of memory";
    case IMG_EIO: return "input/output error";
    case IMG_ENOTFOUND: return "not found";
    case IMG_EEXIST: return "already exists";
    case IMG_EBUSY: return "busy";
    case IMG_ECANCELLED: return "cancelled";
    case IMG_ETIMEDOUT: return "deadline passed";
    case IMG_EFORMAT: return "malformed data";
    case IMG_ECREDITS: return "insufficient credits";
    case IMG_EUNSUPPORTED: return "unsupported";
    case IMG_ESTORE: return "store error";
    case IMG_EDENIED: return "denied";
    case IMG_EMODEL: return "model error";
    case IMG_ERANGE: return "value out of range";
    case IMG_EADAPTER: return "adapter does not apply";
    default: return "unknown error";
    }
}
