/* incbin.h - for assembly files (.S): INCBIN(NAME, PATH, ALIGN) puts the file at PATH (relative to
 * the repository root, where make runs) in the object as the symbols NAME and NAME_end, followed by
 * a NUL byte so text files can be read as C strings. Used by builtin_data.S and static_data.S. */
#ifndef IMGAPI_COMMON_INCBIN_H
#define IMGAPI_COMMON_INCBIN_H

#define INCBIN(name, path, align) \
    .balign align;                \
    .global name;                 \
name:                             \
    .incbin path;                 \
    .global name##_end;           \
name##_end:                       \
    .byte 0

#endif
