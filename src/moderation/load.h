/* load.h - the moderation rules a configuration asks for: its file, or the built-in rules. */
#ifndef IMGAPI_MODERATION_LOAD_H
#define IMGAPI_MODERATION_LOAD_H
#include "config/config.h"
#include "moderation/moderation.h"

int mod_load_configured(const config_t *cfg, moderation_t **out, char *err, size_t errlen);

#endif
