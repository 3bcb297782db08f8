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
/* 1 when the id is a control symbol (e.g. </s>, <pad>), 0 otherwise or when out of range. */
int l2s_sp_is_control(const l2s_sp_processor *processor, int32_t id);
int l2s_sp_is_unknown(const l2s_sp_processor *processor, int32_t id);
int l2s_sp_is_byte(const l2s_sp_processor *processor, int32_t id);
/* Encodes each UTF-8 span text[starts[i] ..< starts[i] + lengths[i]] on its own (normalization, dummy prefix
 * and whitespace handling as the model specifies) and concatenates the ids: the WhitespaceSplit pre-tokenization
 * of Hugging Face's converted tokenizers, in one call. Encoding words apart also keeps libsentencepiece 0.1.x's
 * float32 Viterbi sums small: over a long text they lose the precision that separates near-tied paths.
 * *ids is malloc'd; release it with l2s_sp_free_buffer. Safe to call from several threads on one processor. */
int l2s_sp_encode_spans(const l2s_sp_processor *processor, const char *text, size_t length, const size_t *starts,
                        const size_t *lengths, size_t span_count, int32_t **ids, size_t *count);
/* The piece text of one id (e.g. "▁Hello", "<0xE6>"). *piece is malloc'd; release with l2s_sp_free_buffer.
 * Decoding is done in Swift from these pieces, because Hugging Face's decode (what models are trained against)
 * differs from sentencepiece's Decode for unknown and control pieces. */
int l2s_sp_id_to_piece(const l2s_sp_processor *processor, int32_t id, char **piece, size_t *length);

void l2s_sp_free_buffer(void *buffer);

#ifdef __cplusplus
}
#endif

#endif
