"""The Quix Streams peer (bench contender `peer.quix`): the retail KPIs of `retail-streams run`
written with Quix Streams' StreamingDataFrame, the way its docs show windowed aggregation, on the
same input topic. Run by bench/node-python-peers.ts with the venv of install.sh:

    .cache/py-peers/bin/python bench/peers/quix/kpi.py --bootstrap H:P --group G --input T \
        --state-dir DIR [--prefix quix-] [--window-ms 60000] [--grace-ms 600000] [--commit-interval 1.0]

Pipeline (per record, as Quix processes):
    input (bytes) -> apply(decode + validate) -+- invalid -> <prefix>dead-letter (original bytes, reason in headers)
                                               +- valid
                                                    +- group_by("all")     -> set_timestamp(invoice time) -> tumbling_window(60 s, grace 10 min).reduce().current() -> <prefix>kpi-time
                                                    +- group_by(country)   -> set_timestamp(invoice time) -> tumbling_window(60 s, grace 10 min).reduce().current() -> <prefix>kpi-time-country
Each group_by is a repartition topic (`repartition__<group>--...`): every valid invoice is
produced and consumed twice more, and all "overall" records go through one partition; `run`
instead pre-aggregates each batch per partition and repartitions only partials.

Quix judges lateness per partition of the windowed stage (the repartition topic), against the
largest timestamp seen there: on a backlog where input partitions are read at different speeds, an
invoice more than the grace behind the fastest partition is dropped as late (`run` holds a
window open until every input partition has passed it). The bench's data, with no late invoices
and input partitions read together, stays well inside the 10 minutes.

The decoder follows processors/invoice.ts rule by rule (JSON, field checks in the same order,
money in integer micros, `Math.round` of price x 10^6 reproduced exactly), so the same records
are valid and the same totals come out; amounts are rounded half away from zero (Spark's HALF_UP)
from exact integers, as processors/kpi.ts does.
"""

import argparse
import json
import math
import re
import signal
import sys

from quixstreams import Application

MICROS = 1_000_000
MAX_SAFE = (1 << 53) - 1
MAX_LONG = (1 << 63) - 1

# processors/invoice-values.ts's pattern. re.ASCII: JS's \d is ASCII only; \Z: JS's $ does not
# match before a trailing newline, Python's does.
TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?\Z",
    re.ASCII,
)
DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# What String.prototype.trim removes (ECMAScript WhiteSpace and LineTerminator); Python's strip()
# takes a different set (it strips \x1c-\x1f, keeps \ufeff).
JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year, unlike datetime's 1..9999)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_last_ts_text = None
_last_ts = None


def parse_timestamp(text: str):
    """Epoch ms of `YYYY-MM-DD HH:MM:SS` (UTC) or ISO-8601 with an offset; None when not an instant."""
    global _last_ts_text, _last_ts
    # Invoices of one second come together: remember the last one, as the TypeScript does.
    if text == _last_ts_text:
        return _last_ts
    ts = _parse_timestamp(text)
    _last_ts_text, _last_ts = text, ts
    return ts


def _parse_timestamp(text: str):
    m = TIMESTAMP.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if month < 1 or month > 12 or day < 1 or hour > 23 or minute > 59 or second > 59:
        return None
    leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
    if day > (29 if month == 2 and leap else DAYS_IN_MONTH[month - 1]):
        return None
    frac = m.group(7)
    ms = 0 if frac is None else int(frac[:3].ljust(3, "0"))
    offset_min = 0
    zone = m.group(8)
    if zone is not None and zone != "Z":
        digits = zone[1:].replace(":", "", 1)
        oh = int(digits[:2])
        om = int(digits[2:4]) if len(digits) > 2 else 0
        if oh > 23 or om > 59:
            return None
        offset_min = (-1 if zone[0] == "-" else 1) * (oh * 60 + om)
    days = days_from_civil(year, month, day)
    return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + ms - offset_min * 60_000


def _reject_constant(name):
    # JSON.parse refuses NaN and Infinity; Python's json accepts them unless told otherwise.
    raise ValueError(f"{name} is not JSON")


_decoder = json.JSONDecoder(parse_constant=_reject_constant)


def type_name(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def js_round(x: float) -> int:
    """Math.round: the nearest integer, ties towards +infinity (exact: x - floor(x) is exact)."""
    r = math.floor(x)
    return r + 1 if x - r >= 0.5 else r


def bad(reason: str, detail: str, raw: bytes) -> dict:
    return {"ok": False, "reason": reason, "detail": detail, "raw": raw}


def decode(raw) -> dict:
    """processors/invoice.ts decodeInvoiceReference + validateInvoice, in the same order."""
    if raw is None:
        return bad("not-json", "record has no value", b"")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return bad("not-json", "value is not valid UTF-8", raw)
    try:
        doc = _decoder.decode(text)
    except (ValueError, RecursionError) as e:
        return bad("not-json", str(e), raw)
    if not isinstance(doc, dict):
        return bad("not-an-object", f"expected a JSON object, got {type_name(doc)}", raw)
    for field in ("invoice_no", "country", "timestamp", "type", "items"):
        if field not in doc:
            return bad("missing-field", f"{field} is missing", raw)
    no = doc["invoice_no"]
    if not is_number(no):
        return bad("wrong-type", f"invoice_no must be an integer, got {type_name(no)}", raw)
    # JSON.parse gives a double: an integral one below 2^53 is taken as is (1.0 and 1e3 too);
    # beyond, only plain digits up to 2^63-1 (Python's int keeps them exactly).
    if isinstance(no, float):
        if not (no.is_integer() and abs(no) <= MAX_SAFE):
            return bad("bad-invoice-no", f"invoice_no must be an integer, got {no}", raw)
        no = int(no)
    if no < 0:
        return bad("bad-invoice-no", f"invoice_no must not be negative, got {no}", raw)
    if no > MAX_LONG:
        return bad("bad-invoice-no", f"invoice_no {no} is beyond 2^63-1", raw)
    country = doc["country"]
    if not isinstance(country, str):
        return bad("wrong-type", f"country must be a string, got {type_name(country)}", raw)
    if len(country.strip(JS_WHITESPACE)) == 0:
        return bad("bad-country", "country is empty", raw)
    timestamp = doc["timestamp"]
    if not isinstance(timestamp, str):
        return bad("wrong-type", f"timestamp must be a string, got {type_name(timestamp)}", raw)
    ts = parse_timestamp(timestamp)
    if ts is None:
        return bad("bad-timestamp", f"timestamp {json.dumps(timestamp)} is not YYYY-MM-DD HH:MM:SS or ISO-8601", raw)
    kind = doc["type"]
    if not isinstance(kind, str):
        return bad("wrong-type", f"type must be a string, got {type_name(kind)}", raw)
    if kind == "ORDER":
        is_return = 0
    elif kind == "RETURN":
        is_return = 1
    else:
        return bad("unknown-type", f"type must be ORDER or RETURN, got {json.dumps(kind)}", raw)
    items = doc["items"]
    if not isinstance(items, list):
        return bad("wrong-type", f"items must be an array, got {type_name(items)}", raw)
    micros = 0
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            return bad("bad-items", f"items[{i}] must be an object, got {type_name(item)}", raw)
        if "quantity" not in item:
            return bad("missing-field", f"items[{i}].quantity is missing", raw)
        if "unit_price" not in item:
            return bad("missing-field", f"items[{i}].unit_price is missing", raw)
        q = item["quantity"]
        p = item["unit_price"]
        if not is_number(q):
            return bad("wrong-type", f"items[{i}].quantity must be a number, got {type_name(q)}", raw)
        if isinstance(q, float):
            if not q.is_integer():
                return bad("bad-quantity", f"items[{i}].quantity must be a positive integer, got {q}", raw)
            q = int(q)
        if q <= 0:
            return bad("bad-quantity", f"items[{i}].quantity must be a positive integer, got {q}", raw)
        if not is_number(p):
            return bad("wrong-type", f"items[{i}].unit_price must be a number, got {type_name(p)}", raw)
        try:
            price = float(p)
        except OverflowError:
            price = math.inf
        if not math.isfinite(price) or price < 0:
            return bad("bad-unit-price", f"items[{i}].unit_price must be a finite number >= 0, got {p}", raw)
        # The same double product and Math.round as the TypeScript, then exact integers.
        micros += js_round(price * MICROS) * q
    if micros > MAX_SAFE:
        return bad("bad-unit-price", "invoice total is beyond the exact range of 2^53 micros", raw)
    return {"ok": True, "country": country, "ts": ts, "r": is_return, "m": -micros if is_return else micros}


def round_div(n: int, d: int) -> int:
    """n / d rounded half away from zero, exactly (processors/kpi.ts roundDiv)."""
    q = (2 * abs(n) + abs(d)) // (2 * abs(d))
    return -q if (n < 0) != (d < 0) else q


def scaled(units: int, scale: int):
    """units / scale as JSON would print the TypeScript's double: an int when whole."""
    return units // scale if units % scale == 0 else units / scale


def money(micros: int, divisor: int = 1):
    return scaled(round_div(micros, divisor * 10_000), 100)


def rate(returns: int, invoices: int):
    return scaled(round_div(returns * 10_000, invoices), 10_000)


def iso(ms: int) -> str:
    days, rest = divmod(ms, 86_400_000)
    # civil_from_days, the inverse of days_from_civil.
    z = days + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    y = yoe + era * 400 + (m <= 2)
    h, rest = divmod(rest, 3_600_000)
    mi, rest = divmod(rest, 60_000)
    s, ms_ = divmod(rest, 1000)
    return f"{y:04d}-{m:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{ms_:03d}Z"


# The window aggregate: [invoices, returns, micros], exact integers.
def init(v):
    return [1, v["r"], v["m"]]


def add(a, v):
    a[0] += 1
    a[1] += v["r"]
    a[2] += v["m"]
    return a


def time_kpi(w):
    n, r, m = w["value"]
    return {
        "window": {"start": iso(w["start"]), "end": iso(w["end"])},
        "OPM": n,
        "total_sale_volume": money(m),
        "average_transaction_size": money(m, n),
        "rate_of_return": rate(r, n),
    }


def country_kpi(w, key, *_):
    n, r, m = w["value"]
    return {
        "window": {"start": iso(w["start"]), "end": iso(w["end"])},
        "country": key,
        "OPM": n,
        "total_sale_volume": money(m),
        "rate_of_return": rate(r, n),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--prefix", default="quix-")
    ap.add_argument("--window-ms", type=int, default=60_000)
    ap.add_argument("--grace-ms", type=int, default=600_000)
    # 1 s as the Kafka Streams peer's commit.interval.ms: the stopping rule waits for committed
    # offsets, so Quix's 5 s default would add up to 5 s to every run.
    ap.add_argument("--commit-interval", type=float, default=1.0)
    a = ap.parse_args()

    app = Application(
        broker_address=a.bootstrap,
        consumer_group=a.group,
        auto_offset_reset="earliest",
        commit_interval=a.commit_interval,
        state_dir=a.state_dir,
        loglevel="WARNING",
        # librdkafka tuned for a backlog: `run`'s 8 MiB per partition fetches, a deep prefetch
        # queue, and producer batches of up to 1 MiB with a short linger (librdkafka already
        # sends asynchronously; Quix only flushes at each checkpoint).
        consumer_extra_config={
            "max.partition.fetch.bytes": 8 << 20,
            "fetch.max.bytes": 64 << 20,
            "queued.max.messages.kbytes": 256 << 10,
            "fetch.wait.max.ms": 100,
        },
        producer_extra_config={
            "linger.ms": 20,
            "batch.size": 1 << 20,
            "queue.buffering.max.kbytes": 256 << 10,
        },
    )
    source = app.topic(a.input, key_deserializer="bytes", value_deserializer="bytes")
    kpi_time = app.topic(f"{a.prefix}kpi-time", key_serializer="str", value_serializer="json")
    kpi_country = app.topic(f"{a.prefix}kpi-time-country", key_serializer="str", value_serializer="json")
    dead = app.topic(f"{a.prefix}dead-letter", key_serializer="bytes", value_serializer="bytes")

    sdf = app.dataframe(source).apply(decode)

    invalid = sdf.filter(lambda v: not v["ok"])
    invalid = invalid.set_headers(lambda v, k, t, h: [*h, ("rs-reason", v["reason"].encode()), ("rs-detail", v["detail"].encode())])
    invalid.apply(lambda v: v["raw"]).to_topic(dead)

    valid = sdf.filter(lambda v: v["ok"])
    # Event time is set after each group_by, not before: a repartitioned record keeps the
    # timestamp it is given, the repartition topic inherits the input's retention.ms (7 days), and
    # the broker deletes segments of 2020-stamped records at once (then the consumer's offset
    # is out of range and it starts the partition over, counting everything twice).
    event_time = lambda v, k, t, h: v["ts"]

    overall = valid.group_by(lambda v: "all", name="all", key_serializer="str", key_deserializer="str").set_timestamp(event_time)
    overall = overall.tumbling_window(duration_ms=a.window_ms, grace_ms=a.grace_ms, name="kpi-time").reduce(add, init).current()
    overall.apply(time_kpi).to_topic(kpi_time, key=lambda v: v["window"]["start"])

    by_country = valid.group_by(lambda v: v["country"], name="country", key_serializer="str", key_deserializer="str").set_timestamp(event_time)
    by_country = by_country.tumbling_window(duration_ms=a.window_ms, grace_ms=a.grace_ms, name="kpi-time-country").reduce(add, init).current()
    by_country.apply(country_kpi, metadata=True).to_topic(kpi_country, key=lambda v: f"{v['window']['start']}|{v['country']}")

    print(f"quix peer running: group {a.group}, input {a.input}", flush=True)
    app.run()
    print("quix peer stopped", flush=True)


if __name__ == "__main__":
    main()
