// simdjson-backed decoder behind include/guardian_json.h. See the header for the contract.
#include "guardian_json.h"

#include <simdjson.h>

#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

struct gj_decoder {
    simdjson::dom::parser parser;
    std::vector<uint8_t> padded;  // input copy with simdjson's required padding
    std::string attrs;            // merged attrs text
};

namespace {

enum Field {
    F_V, F_EVENT_ID, F_SYMBOL, F_SEQ, F_TS, F_KIND, F_DECISION, F_REASON, F_SIDE, F_QTY, F_PRICE,
    F_POSITION, F_EXPOSURE, F_REALIZED_PNL, F_UNREALIZED_PNL, F_LATENCY_US, F_ATTRS, F_UNKNOWN
};

Field field_of(std::string_view k) {
    switch (k.size()) {
    case 1: if (k == "v") return F_V; break;
    case 2: if (k == "ts") return F_TS; break;
    case 3: if (k == "seq") return F_SEQ; if (k == "qty") return F_QTY; break;
    case 4: if (k == "kind") return F_KIND; if (k == "side") return F_SIDE; break;
    case 5: if (k == "price") return F_PRICE; if (k == "attrs") return F_ATTRS; break;
    case 6: if (k == "symbol") return F_SYMBOL; if (k == "reason") return F_REASON; break;
    case 8: if (k == "event_id") return F_EVENT_ID; if (k == "decision") return F_DECISION;
            if (k == "position") return F_POSITION; if (k == "exposure") return F_EXPOSURE; break;
    case 10: if (k == "latency_us") return F_LATENCY_US; break;
    case 12: if (k == "realized_pnl") return F_REALIZED_PNL; break;
    case 14: if (k == "unrealized_pnl") return F_UNREALIZED_PNL; break;
    }
    return F_UNKNOWN;
}

const char *type_name(simdjson::dom::element_type t) {
    using T = simdjson::dom::element_type;
    switch (t) {
    case T::ARRAY: return "an array";
    case T::OBJECT: return "an object";
    case T::INT64: case T::UINT64: return "an integer";
    case T::DOUBLE: return "a number";
    case T::STRING: return "a string";
    case T::BOOL: return "a boolean";
    case T::NULL_VALUE: return "null";
    }
    return "an unknown type";
}

int fail(gj_event *out, int code, const char *fmt, std::string_view a, const char *b = "") {
    std::snprintf(out->error, sizeof out->error, fmt, static_cast<int>(a.size()), a.data(), b);
    return code;
}

void append_json_string(std::string &s, std::string_view v) {
    s.push_back('"');
    for (unsigned char c : v) {
        switch (c) {
        case '"': s += "\\\""; break;
        case '\\': s += "\\\\"; break;
        case '\n': s += "\\n"; break;
        case '\r': s += "\\r"; break;
        case '\t': s += "\\t"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                s += buf;
            } else {
                s.push_back(static_cast<char>(c));
            }
        }
    }
    s.push_back('"');
}

// PostgreSQL text and jsonb cannot hold U+0000 (SQLSTATE 22021 / 22P05): such an event could never be
// stored, so it is refused here, with the field named, instead of failing its whole batch later.
bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

bool has_nul(simdjson::dom::element e) {
    using T = simdjson::dom::element_type;
    switch (e.type()) {
    case T::STRING: { std::string_view s; e.get(s); return has_nul(s); }
    case T::ARRAY: {
        simdjson::dom::array a; e.get(a);
        for (auto v : a) if (has_nul(v)) return true;
        return false;
    }
    case T::OBJECT: {
        simdjson::dom::object o; e.get(o);
        for (auto f : o) if (has_nul(f.key) || has_nul(f.value)) return true;
        return false;
    }
    default: return false;
    }
}

}  // namespace

extern "C" gj_decoder *gj_decoder_new(void) {
    return new (std::nothrow) gj_decoder();
}

extern "C" void gj_decoder_free(gj_decoder *decoder) {
    delete decoder;
}

extern "C" int gj_decode(gj_decoder *d, const uint8_t *json, size_t len, gj_event *out) {
    using T = simdjson::dom::element_type;
    std::memset(out, 0, sizeof *out);
    if (d->padded.size() < len + simdjson::SIMDJSON_PADDING) d->padded.resize(len + simdjson::SIMDJSON_PADDING);
    if (len) std::memcpy(d->padded.data(), json, len);
    std::memset(d->padded.data() + len, 0, simdjson::SIMDJSON_PADDING);

    simdjson::dom::element root;
    auto err = d->parser.parse(d->padded.data(), len, false).get(root);
    if (err) return fail(out, GJ_MALFORMED, "malformed JSON: %.*s%s", simdjson::error_message(err));
    simdjson::dom::object obj;
    if (root.get(obj)) return fail(out, GJ_MALFORMED, "the event must be a JSON object, not %.*s%s", type_name(root.type()));

    uint32_t seen = 0;
    simdjson::dom::object attrs_obj;
    bool has_attrs = false;
    std::vector<std::pair<std::string_view, simdjson::dom::element>> unknown;

    for (auto field : obj) {
        std::string_view key = field.key;
        simdjson::dom::element value = field.value;
        Field f = field_of(key);
        if (f != F_UNKNOWN) {
            if (seen & (1u << f)) return fail(out, GJ_BAD_FIELD, "duplicate field '%.*s'%s", key);
            seen |= 1u << f;
        }
        T type = value.type();
        bool is_null = type == T::NULL_VALUE;
        switch (f) {
        case F_V: case F_SEQ: case F_TS: case F_LATENCY_US: {
            if (is_null && f == F_LATENCY_US) break;
            if (type == T::UINT64) return fail(out, GJ_BAD_FIELD, "'%.*s' is out of the int64 range%s", key);
            int64_t i = 0;
            if (type == T::DOUBLE) {
                // JSON Schema's "integer" includes numbers like 5.0: accept them when integral and in range.
                double x = 0;
                value.get(x);
                if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0) || x != static_cast<double>(static_cast<int64_t>(x)))
                    return fail(out, GJ_BAD_FIELD, "'%.*s' must be an integer, not %s", key, "a fractional or out-of-range number");
                i = static_cast<int64_t>(x);
            } else if (type != T::INT64 || value.get(i)) {
                return fail(out, GJ_BAD_FIELD, "'%.*s' must be an integer, not %s", key, type_name(type));
            }
            if (f == F_V) { out->v = i; out->present |= GJ_HAS_V; }
            else if (f == F_SEQ) { out->seq = i; out->present |= GJ_HAS_SEQ; }
            else if (f == F_TS) { out->ts = i; out->present |= GJ_HAS_TS; }
            else { out->latency_us = i; out->present |= GJ_HAS_LATENCY_US; }
            break;
        }
        case F_QTY: case F_PRICE: case F_POSITION: case F_EXPOSURE: case F_REALIZED_PNL: case F_UNREALIZED_PNL: {
            if (is_null) break;
            double x;
            if (type == T::INT64) { int64_t i; value.get(i); x = static_cast<double>(i); }
            else if (type == T::UINT64) { uint64_t u; value.get(u); x = static_cast<double>(u); }
            else if (type == T::DOUBLE) { value.get(x); }
            else return fail(out, GJ_BAD_FIELD, "'%.*s' must be a number or null, not %s", key, type_name(type));
            switch (f) {
            case F_QTY: out->qty = x; out->present |= GJ_HAS_QTY; break;
            case F_PRICE: out->price = x; out->present |= GJ_HAS_PRICE; break;
            case F_POSITION: out->position = x; out->present |= GJ_HAS_POSITION; break;
            case F_EXPOSURE: out->exposure = x; out->present |= GJ_HAS_EXPOSURE; break;
            case F_REALIZED_PNL: out->realized_pnl = x; out->present |= GJ_HAS_REALIZED_PNL; break;
            default: out->unrealized_pnl = x; out->present |= GJ_HAS_UNREALIZED_PNL; break;
            }
            break;
        }
        case F_EVENT_ID: case F_SYMBOL: case F_KIND: case F_DECISION: case F_REASON: case F_SIDE: {
            bool nullable = f == F_DECISION || f == F_REASON || f == F_SIDE;
            if (is_null && nullable) break;
            std::string_view s;
            if (type != T::STRING || value.get(s))
                return fail(out, GJ_BAD_FIELD, nullable ? "'%.*s' must be a string or null, not %s" : "'%.*s' must be a string, not %s",
                            key, type_name(type));
            if (has_nul(s)) return fail(out, GJ_INVALID, "'%.*s' contains U+0000 (NUL), which %s", key, "PostgreSQL text cannot store");
            gj_str g{s.data(), s.size()};
            switch (f) {
            case F_EVENT_ID: out->event_id = g; break;
            case F_SYMBOL: out->symbol = g; break;
            case F_KIND: out->kind = g; break;
            case F_DECISION: out->decision = g; break;
            case F_REASON: out->reason = g; break;
            default: out->side = g; break;
            }
            break;
        }
        case F_ATTRS:
            if (value.get(attrs_obj)) return fail(out, GJ_BAD_FIELD, "'%.*s' must be an object, not %s", key, type_name(type));
            if (has_nul(value)) return fail(out, GJ_INVALID, "'%.*s' contains U+0000 (NUL), which %s", key, "PostgreSQL jsonb cannot store");
            has_attrs = true;
            break;
        case F_UNKNOWN:
            if (has_nul(key)) return fail(out, GJ_INVALID, "a field name contains U+0000 (NUL), which %.*s%s", "PostgreSQL jsonb cannot store", "");
            if (has_nul(value))
                return fail(out, GJ_INVALID, "field '%.*s' contains U+0000 (NUL), which %s", key, "PostgreSQL jsonb cannot store");
            unknown.emplace_back(key, value);
            break;
        }
    }

    if (has_attrs || !unknown.empty()) {
        std::string &a = d->attrs;
        a.clear();
        if (has_attrs) {
            a = simdjson::minify(attrs_obj);
            a.pop_back();  // reopen the object to append unknown fields
        } else {
            a.push_back('{');
        }
        for (auto &[key, value] : unknown) {
            // Unknown top-level fields are kept in attrs; attrs' own key of the same name wins and
            // the top-level value is kept under "top.<name>".
            bool clash = has_attrs && !attrs_obj[key].error();
            if (a.size() > 1) a.push_back(',');
            append_json_string(a, clash ? std::string("top.") + std::string(key) : std::string(key));
            a.push_back(':');
            a += simdjson::minify(value);
        }
        a.push_back('}');
        out->attrs = gj_str{a.data(), a.size()};
    }
    return GJ_OK;
}
