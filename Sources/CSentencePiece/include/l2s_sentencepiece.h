/* A pure-C surface over libsentencepiece's C++ SentencePieceProcessor.
 * Opaque handle, _new/_free pairs, int status codes (0 = success) and a per-thread last error text.
 * No C++ exception crosses this boundary. */
#ifndef L2S_SENTENCEPIECE_H
#define L2S_SENTENCEPIECE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct l2s_sp_processor l2s_sp_processor;

enum {
    L2S_SP_OK = 0,
    L2S_SP_ERROR = 1,        /* sentencepiece returned a non-OK status; see l2s_sp_last_error */
    L2S_SP_BAD_ARGUMENT = 2, /* a null pointer or an id out of range */
    L2S_SP_NO_MEMORY = 3
};

/* The text of the last error on this thread (never NULL; empty when none). */
const char *l2s_sp_last_error(void);

/* Loads a serialized model (the bytes of spiece.model). On success *out owns a processor. */
int l2s_sp_new_from_bytes(const void *bytes, size_t length, l2s_sp_processor **out);
void l2s_sp_free(l2s_sp_processor *processor);

int32_t l2s_sp_piece_count(const l2s_sp_processor *processor);
int32_t l2s_sp_unk_id(const l2s_sp_processor *processor);
int32_t l2s_sp_bos_id(const l2s_sp_processor *processor);
int32_t l2s_sp_eos_id(const l2s_sp_processor *processor);
int32_t l2s_sp_pad_id(const l2s_sp_processor *processor);
/* 1 when the id is a control symbol (e.g. </s>, <pad>), 0 otherwise or when out of range. */
int l2s_sp_is_control(const l2s_sp_processor *processor, int32_t id);
int l2s_sp_is_unknown(const l2s_sp_processor *processor, int32_t id);
int l2s_sp_is_byte(const l2s_sp_processor *processor, int32_t id);
/* -1 when the piece is not in the vocabulary. */
int32_t l2s_sp_piece_to_id(const l2s_sp_processor *processor, const char *piece, size_t length);

/* Encodes UTF-8 text into ids. *ids is malloc'd; release it with l2s_sp_free_buffer. */
int l2s_sp_encode(const l2s_sp_processor *processor, const char *text, size_t length,
                  int32_t **ids, size_t *count);
/* Decodes ids into UTF-8 text. *text is malloc'd (not NUL-terminated); release with l2s_sp_free_buffer. */
int l2s_sp_decode(const l2s_sp_processor *processor, const int32_t *ids, size_t count,
                  char **text, size_t *length);
/* The piece text of one id (e.g. "▁Hello"). *piece is malloc'd; release with l2s_sp_free_buffer. */
int l2s_sp_id_to_piece(const l2s_sp_processor *processor, int32_t id, char **piece, size_t *length);

void l2s_sp_free_buffer(void *buffer);

#ifdef __cplusplus
}
#endif

#endif
