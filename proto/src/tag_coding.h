// Tags of a WindowRecord, coded by hand on nanopb's stream primitives: the generated static Tag
// struct carries the device-side string sizes (proto/edgesketch.options), which are far smaller
// than what a series key may hold. Internal to es_wire.
#pragma once

#include <vector>

#include "edgesketch/wire/types.h"
#include "nanopb_io.h"

namespace edgesketch::wire::internal {

// Decodes one Tag submessage (the whole of `stream`) and appends it to *tags. Fails with
// too_many_tags past limits.max_tags, with tag_order unless its key sorts strictly after the
// previous tag's, and with the string checks of check_name (the key is required). `record`
// names the record for error messages.
bool decode_sorted_tag(DecodeContext& ctx, pb_istream_t* stream, const FieldPath& record,
                       std::vector<Tag>* tags);

// An encode callback writing every tag of *tags (which must outlive pb_encode) as a Tag
// submessage, empty strings omitted.
pb_callback_t encode_tags_callback(const std::vector<Tag>* tags);

}  // namespace edgesketch::wire::internal
