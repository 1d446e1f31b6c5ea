/* status.h - the one error enum every library function returns (0 = success). */
#ifndef IMGAPI_COMMON_STATUS_H
#define IMGAPI_COMMON_STATUS_H

typedef enum {
    IMG_OK = 0,
    IMG_EINVAL = -1,      /* bad argument or input */
    IMG_ENOMEM = -2,      /* allocation failed */
    IMG_EIO = -3,         /* file or socket error */
    IMG_ENOTFOUND = -4,   /* no such key, job, model, tensor */
    IMG_EEXIST = -5,      /* already exists */
    IMG_EBUSY = -6,       /* resource full (queue, concurrency) */
    IMG_ECANCELLED = -7,  /* cancelled by client or shutdown */
    IMG_ETIMEDOUT = -8,   /* deadline passed */
    IMG_EFORMAT = -9,     /* malformed file or data */
    IMG_ECREDITS = -10,   /* balance too low */
    IMG_EUNSUPPORTED = -11, /* valid but not supported here */
    IMG_ESTORE = -12,     /* the store failed (SQL error, unreachable) */
    IMG_EDENIED = -13,    /* revoked or not allowed */
    IMG_EMODEL = -14,     /* model could not be loaded or run */
    IMG_ERANGE = -15,     /* a value (an amount, a count) is outside what may be stored */
    IMG_EADAPTER = -16,   /* a requested adapter (LoRA) cannot be applied to the model; the
                             message names it as the request did, never by its path */
} img_status_t;

/* Returns a static, human-readable name for a status; never NULL. */
const char *img_status_str(int status);

#endif
