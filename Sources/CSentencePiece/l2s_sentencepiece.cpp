// The one exception boundary between Swift and libsentencepiece: every entry point catches
// everything and turns it into a status code plus a per-thread error text.
#include "l2s_sentencepiece.h"

#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

struct l2s_sp_processor {
    sentencepiece::SentencePieceProcessor processor;
};

namespace {

thread_local std::string last_error;

int fail(int code, const std::string &message) {
    last_error = message;
    return code;
}

int from_status(const sentencepiece::util::Status &status) {
    if (status.ok()) {
        last_error.clear();
        return L2S_SP_OK;
    }
    return fail(L2S_SP_ERROR, status.ToString());
}

template <typename Body> int guarded(Body body) {
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return fail(L2S_SP_NO_MEMORY, "out of memory");
    } catch (const std::exception &error) {
        return fail(L2S_SP_ERROR, error.what());
    } catch (...) {
        return fail(L2S_SP_ERROR, "unknown C++ exception in sentencepiece");
    }
}

bool in_range(const l2s_sp_processor *p, int32_t id) {
    return p != nullptr && id >= 0 && id < p->processor.GetPieceSize();
}

int copy_out(const std::string &text, char **out, size_t *length) {
    char *buffer = static_cast<char *>(std::malloc(text.size() + 1));
    if (buffer == nullptr) return fail(L2S_SP_NO_MEMORY, "out of memory");
    std::memcpy(buffer, text.data(), text.size());
    buffer[text.size()] = '\0';
    *out = buffer;
    *length = text.size();
    return L2S_SP_OK;
}

}  // namespace

extern "C" {

const char *l2s_sp_last_error(void) { return last_error.c_str(); }

int l2s_sp_new_from_bytes(const void *bytes, size_t length, l2s_sp_processor **out) {
    if (bytes == nullptr || out == nullptr) return fail(L2S_SP_BAD_ARGUMENT, "null argument");
    return guarded([&]() -> int {
        auto *p = new l2s_sp_processor();
        auto status = p->processor.LoadFromSerializedProto(
            std::string(static_cast<const char *>(bytes), length));
        if (!status.ok()) {
            delete p;
            return from_status(status);
        }
        *out = p;
        return L2S_SP_OK;
    });
}

void l2s_sp_free(l2s_sp_processor *processor) { delete processor; }

int32_t l2s_sp_piece_count(const l2s_sp_processor *p) { return p ? p->processor.GetPieceSize() : 0; }

int l2s_sp_is_control(const l2s_sp_processor *p, int32_t id) {
    return in_range(p, id) && p->processor.IsControl(id) ? 1 : 0;
}
int l2s_sp_is_unknown(const l2s_sp_processor *p, int32_t id) {
    return in_range(p, id) && p->processor.IsUnknown(id) ? 1 : 0;
}
int l2s_sp_is_byte(const l2s_sp_processor *p, int32_t id) {
    return in_range(p, id) && p->processor.IsByte(id) ? 1 : 0;
}

int l2s_sp_encode_spans(const l2s_sp_processor *p, const char *text, size_t length, const size_t *starts,
                        const size_t *lengths, size_t span_count, int32_t **ids, size_t *count) {
    if (p == nullptr || (text == nullptr && length > 0) || ids == nullptr || count == nullptr ||
        (span_count > 0 && (starts == nullptr || lengths == nullptr)))
        return fail(L2S_SP_BAD_ARGUMENT, "null argument");
    for (size_t i = 0; i < span_count; ++i) {
        if (starts[i] > length || lengths[i] > length - starts[i])
            return fail(L2S_SP_BAD_ARGUMENT, "span " + std::to_string(i) + " lies outside the text of " +
                                                 std::to_string(length) + " bytes");
    }
    return guarded([&]() -> int {
        std::vector<int> all;
        std::vector<int> pieces;
        for (size_t i = 0; i < span_count; ++i) {
            auto status = p->processor.Encode(absl::string_view(text + starts[i], lengths[i]), &pieces);
            if (!status.ok()) return from_status(status);
            all.insert(all.end(), pieces.begin(), pieces.end());
        }
        auto *buffer = static_cast<int32_t *>(std::malloc(sizeof(int32_t) * (all.size() + 1)));
        if (buffer == nullptr) return fail(L2S_SP_NO_MEMORY, "out of memory");
        for (size_t i = 0; i < all.size(); ++i) buffer[i] = all[i];
        *ids = buffer;
        *count = all.size();
        return L2S_SP_OK;
    });
}

int l2s_sp_id_to_piece(const l2s_sp_processor *p, int32_t id, char **piece, size_t *length) {
    if (piece == nullptr || length == nullptr) return fail(L2S_SP_BAD_ARGUMENT, "null argument");
    if (!in_range(p, id)) return fail(L2S_SP_BAD_ARGUMENT, "id " + std::to_string(id) + " is outside the vocabulary");
    return guarded([&]() -> int { return copy_out(p->processor.IdToPiece(id), piece, length); });
}

void l2s_sp_free_buffer(void *buffer) { std::free(buffer); }

}  // extern "C"
