/* unescape.h - a prompt as its client meant it: the encodings that broken or templated clients
 * leave in text (URL encoding, HTML tags and character references, JSON escapes that arrived
 * literally) read back, so that moderation judges the words an image model's tokenizer sees
 * through them ("a%20naked%20girl", "nude+kid", "M\u00e4dchen", "&lt;b&gt;"). */
#ifndef IMGAPI_MODERATION_UNESCAPE_H
#define IMGAPI_MODERATION_UNESCAPE_H

/* The decoded copy of text (malloc'd, never longer than text; NULL when out of memory). Each
 * decoding keeps what it cannot read as written: a percent-encoded run that is not valid UTF-8,
 * a character reference to no character or to a control character, a lone surrogate. */
char *mod_unescape(const char *text);

#endif
