# SPDX-License-Identifier: LGPL-2.1-or-later
"""Client conversations for the QEMU differential test (vschost --mode qemu vs QEMU 7.2).

Each conversation is what a VSCard client could send to QEMU's
ccid-card-passthru, good and bad. The host's replies are compared byte for byte.
Rules exercised, from QEMU's hw/usb/ccid-card-passthru.c and measured against
QEMU 7.2: Init answered with Init whatever the client's magic/version;
ReaderAdd answered Error(success) with reader id 0; check_atr() and the 40-byte
ATR cap; Error(general) for every type QEMU does not handle; no answer to APDU
and Error from the client; nothing answered after 64 KiB of unparsed input.

Conversations keep every message whole at connection boundaries: QEMU keeps a
partial message in its buffer across connections (and a full buffer wedges the
device for every later client), which vschost deliberately does not reproduce.
"""
import random
import struct

from conversation import Conversation, Reconnect, Send
from vscard_peer import (APDU, ATR, CARD_REMOVE, ERROR, FLUSH, FLUSH_COMPLETE, INIT,
                         READER_ADD, READER_REMOVE, RECONNECT, UNDEFINED_READER,
                         VICC_ATR, atr, error, init, msg, reader_add)

# QEMU's own DEFAULT_ATR (an Athena card, T=0/T=1... as in ccid-card-passthru.c).
ATHENA_ATR = bytes.fromhex("3B D5 18 FF 80 91 FE 1F C3 80 73 C8 21 13 08")
# A T=0 card: TS, T0 with no interface bytes and two historical bytes.
T0_ATR = bytes.fromhex("3B 02 14 50")
SELECT_MF = bytes.fromhex("00 A4 00 00 02 3F 00")


def _session_start(name=b"Reader 0"):
    return [Send(init()), Send(reader_add(name))]


def normal_session():
    return Conversation("normal_session", _session_start() + [
        Send(atr(VICC_ATR)),
        Send(msg(APDU, 0, bytes.fromhex("6F 10 84 02 3F 00 90 00"))),
        Send(error(0, 0)),
        Send(msg(CARD_REMOVE, 0)),
        Send(msg(READER_REMOVE, 0)),
    ], "Init, ReaderAdd, ATR, an APDU response, Error, CardRemove, ReaderRemove")


def libcacard_style_session():
    # libcacard's vscclient sends ReaderAdd with an empty name and reader id
    # VSCARD_UNDEFINED_READER_ID.
    return Conversation("libcacard_style_session", [
        Send(init()), Send(msg(READER_ADD, UNDEFINED_READER)), Send(atr(ATHENA_ATR, 0)),
        Send(msg(CARD_REMOVE, 0)), Send(msg(READER_REMOVE, 0))])


def second_reader():
    return Conversation("second_reader", _session_start() + [
        Send(reader_add(b"Reader 1")), Send(reader_add(b"Reader 2", reader_id=7)),
        Send(atr(VICC_ATR, 1)), Send(msg(READER_REMOVE, 1))],
        "QEMU has one slot: every ReaderAdd gets Error(success) with reader id 0")


def good_atrs():
    steps = _session_start()
    for a in (VICC_ATR, ATHENA_ATR, T0_ATR, bytes.fromhex("3F 00"),
              # historical bytes only, 15 of them, then trailing junk: "too long" is let through
              bytes.fromhex("3B 0F") + bytes(15) + bytes(5),
              # exactly 40 bytes
              bytes.fromhex("3B 0F") + bytes(38)):
        steps += [Send(atr(a)), Send(msg(CARD_REMOVE, 0))]
    return Conversation("good_atrs", steps)


def bad_atrs():
    steps = _session_start()
    for a in (b"", b"\x3b", bytes.fromhex("3C 00"), bytes.fromhex("00 00"),
              bytes.fromhex("3B 05 01 02"),           # fewer historical bytes than T0 says
              bytes.fromhex("3B F0 11 22"),           # interface bytes announced, missing
              bytes.fromhex("3B 0F") + bytes(39),     # 41 bytes: over QEMU's cap
              bytes.fromhex("3B 00") + bytes(100)):   # far over the cap
        steps.append(Send(atr(a)))
    # ATRs on reader ids QEMU never gave: the reply echoes the id.
    steps += [Send(atr(VICC_ATR, 5)), Send(atr(b"", 9))]
    return Conversation("bad_atrs", steps, "each reply carries the reader id sent")


def atr_before_reader():
    return Conversation("atr_before_reader", [
        Send(init()), Send(atr(VICC_ATR)), Send(msg(CARD_REMOVE, 3)), Send(msg(READER_REMOVE, 3))])


def no_init():
    return Conversation("no_init", [
        Send(reader_add(b"r")), Send(atr(VICC_ATR)), Send(init())],
        "QEMU answers messages sent before Init")


def unknown_types():
    steps = [Send(init())]
    for t in (0, 11, 12, 0x7FFFFFFF, 0xFFFFFFFF):
        steps.append(Send(msg(t, 0, b"")))
        steps.append(Send(msg(t, 4, b"payload")))
    # Reconnect is this project's extension; QEMU does not know it.
    steps.append(Send(msg(RECONNECT, 0, bytes(256))))
    steps.append(Send(msg(RECONNECT, 2, b"short")))
    return Conversation("unknown_types", steps)


def flush_from_client():
    return Conversation("flush_from_client", _session_start() + [
        Send(msg(FLUSH, 0)), Send(msg(FLUSH_COMPLETE, 0)), Send(msg(FLUSH, 3, b"x")),
        Send(msg(FLUSH_COMPLETE, 0xFFFFFFFF))])


def malformed_init():
    steps = []
    for payload in (b"XXXX" + struct.pack(">II", 2, 0),          # bad magic
                    b"VSCD" + struct.pack(">II", 3, 0),          # other version
                    b"VSCD" + struct.pack(">II", 0x7FFFFFFF, 1),
                    b"VSCD" + struct.pack(">III", 2, 0, 0),      # two capability words
                    b"VSCD" + struct.pack(">I", 2),              # no capability word
                    b"VSCD", b"",                                 # too short
                    b"VSCD" + struct.pack(">II", 2, 0) + b"\x01"):  # not whole words
        steps.append(Send(msg(INIT, 0, payload)))
    steps.append(Send(msg(INIT, 5, b"VSCD" + struct.pack(">II", 2, 0))))
    steps.append(Send(reader_add()))
    return Conversation("malformed_init", steps, "every Init is answered with QEMU's Init")


def client_error_messages():
    return Conversation("client_error_messages", _session_start() + [
        Send(error(1, 0)), Send(error(0, 0xFFFFFFFF)), Send(msg(ERROR, 0, b"\x00\x01")),
        Send(msg(ERROR, 0, bytes(8))), Send(reader_add(b"after errors"))],
        "QEMU answers no Error message, well-formed or not")


def odd_reader_names():
    return Conversation("odd_reader_names", [
        Send(init()), Send(reader_add(b"\xff\xfe not utf-8")), Send(reader_add(b"nul\x00inside")),
        Send(reader_add(b"trailing nul\x00")), Send(reader_add(b"x" * 4000))])


def pipelined():
    data = init() + reader_add(b"r") + atr(VICC_ATR) + msg(APDU, 0, b"\x90\x00") + \
        msg(CARD_REMOVE, 0) + msg(99, 0) + msg(READER_REMOVE, 0)
    return Conversation("pipelined", [Send(data)], "many messages in one write")


def byte_by_byte():
    data = init() + reader_add(b"Reader 0") + atr(VICC_ATR) + msg(0x42, 1, b"zz") + \
        msg(CARD_REMOVE, 0) + msg(READER_REMOVE, 0)
    steps = [Send(data[i:i + 1], settle=False) for i in range(len(data) - 1)]
    steps.append(Send(data[-1:]))
    return Conversation("byte_by_byte", steps)


def split_at_odd_places():
    data = init() + reader_add(b"Reader 0") + atr(ATHENA_ATR) + msg(CARD_REMOVE, 0)
    cuts = [3, 11, 12, 13, 25, 30, 37, 44, len(data)]
    steps, prev = [], 0
    for c in cuts:
        steps.append(Send(data[prev:c]))
        prev = c
    return Conversation("split_at_odd_places", steps)


def card_remove_insert():
    return Conversation("card_remove_insert", _session_start() + [
        Send(atr(VICC_ATR)), Send(msg(CARD_REMOVE, 0)), Send(atr(ATHENA_ATR)), Send(atr(T0_ATR)),
        Send(msg(CARD_REMOVE, 0)), Send(msg(CARD_REMOVE, 0)), Send(msg(CARD_REMOVE, 6, b"junk"))],
        "a second ATR without CardRemove and a CardRemove without card are both accepted")


def reader_remove():
    return Conversation("reader_remove", _session_start() + [
        Send(atr(VICC_ATR)), Send(msg(READER_REMOVE, 0)), Send(msg(READER_REMOVE, 0)),
        Send(atr(VICC_ATR)), Send(reader_add(b"again")), Send(atr(VICC_ATR)),
        Send(msg(READER_REMOVE, 0xFFFFFFFF))])


def largest_message():
    # 12 + 65524 = 65536 bytes: exactly QEMU's buffer; still handled.
    return Conversation("largest_message", [
        Send(init()), Send(msg(APDU, 0, bytes(65536 - 12))), Send(reader_add(b"after"))])


def oversize_message():
    # One byte more than fits: QEMU stops reading (answers nothing more) but keeps
    # the connection open.
    return Conversation("oversize_message", [
        Send(init()), Send(msg(APDU, 0, bytes(65536 - 11))), Send(reader_add(b"after")),
        Send(init())])


def oversize_header_only():
    # A header announcing 1 GiB, a little payload, then more messages.
    return Conversation("oversize_header_only", [
        Send(init()), Send(struct.pack(">III", APDU, 0, 1 << 30) + bytes(100)),
        Send(reader_add(b"after"))])


def oversize_stream():
    # 100 KiB of one message: QEMU stops reading at 64 KiB; the sender keeps writing.
    return Conversation("oversize_stream", [
        Send(init()), Send(msg(ATR, 0, bytes(100 * 1024))), Send(init())])


def reconnecting_client():
    return Conversation("reconnecting_client", _session_start() + [
        Send(atr(VICC_ATR)), Reconnect(),
        Send(init()), Send(reader_add(b"Reader 0")), Send(atr(ATHENA_ATR)),
        Send(msg(CARD_REMOVE, 0)), Reconnect(),
        Send(reader_add(b"no init this time")), Send(init())],
        "a client closing after whole messages and connecting again")


# Write patterns (issue 18). QEMU's chardev hands the device reads of at most
# 4096 bytes (CHR_READ_BUF_LEN), also capped by the room left in its 64 KiB
# buffer, which empties only when a read ends on a message boundary. Each write
# below stays under one loopback segment (or is followed by a settle) so that
# QEMU's reads see it whole; vschost must cut the same reads from what it gets.

def _atr_stream(count):
    """`count` 52-byte ATR messages (4096 is no multiple of 52: reads of 4096
    end mid-message except every 13th, at 53248 bytes)."""
    return b"".join(atr(bytes.fromhex("3B 0F") + bytes(15) + bytes(23)) for _ in range(count))


def _cut(data, sizes):
    """Send steps of data in pieces of the given sizes, cycling; each settles."""
    steps, pos, i = [], 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        steps.append(Send(data[pos:pos + n]))
        pos += n
        i += 1
    return steps


def one_byte_at_a_time():
    data = init() + reader_add(b"byte by byte") + _atr_stream(8) + msg(CARD_REMOVE, 0)
    steps = [Send(data[i:i + 1], settle=False) for i in range(len(data) - 1)]
    return Conversation("one_byte_at_a_time", steps + [Send(data[-1:])])


def writes_of_4k_around():
    data = init() + reader_add(b"r") + _atr_stream(300)
    return Conversation("writes_of_4k_around", [Send(b"")] + _cut(data, [4095, 4096, 4097]),
                        "a 15 KiB stream in writes of 4095, 4096 and 4097 bytes")


def many_messages_per_write():
    # 1300 ATRs = 67600 bytes in one write: QEMU's reads of 4096 bytes end mid-
    # message until the 13th (53248 bytes, a multiple of 52), which empties the
    # buffer; every message is answered. A host applying the boundary rule to
    # larger reads stalls here.
    return Conversation("many_messages_per_write", [
        Send(init()), Send(reader_add(b"r")), Send(_atr_stream(1300)), Send(init())],
        "1300 messages in one 67600-byte write, then Init")


def write_ends_exactly_at_64k():
    # 4096 CardRemove messages of 16 bytes = 65536 bytes; every read of 4096 ends
    # on a boundary. Then one more message in its own write.
    card_remove = msg(CARD_REMOVE, 0, b"abcd")
    return Conversation("write_ends_exactly_at_64k", [
        Send(init()), Send(card_remove * 4096), Send(card_remove)])


def largest_message_and_more_in_one_write():
    # A message of exactly 65536 bytes and more messages after it in the same
    # write: QEMU's 16th read ends on the big message's last byte, so the
    # buffer empties and the rest is answered.
    return Conversation("largest_message_and_more_in_one_write", [
        Send(init()), Send(msg(APDU, 0, bytes(65536 - 12)) + reader_add(b"after") + init())])


def write_just_past_64k_unaligned():
    # 1012-byte messages (ATRs over QEMU's 40-byte cap: each answered
    # Error(general)) in writes of 1000 bytes: no read ends on a boundary before
    # 253 writes, so at 65536 bytes QEMU's buffer is full; the writes that end
    # just past 64 KiB and everything after go unanswered.
    data = atr(bytes(1000)) * 70
    return Conversation("write_just_past_64k_unaligned",
                        [Send(init())] + _cut(data[:66000], [1000]) + [Send(init())],
                        "reads ending mid-message for 64 KiB: QEMU stops reading")


def random_splits(seed):
    rng = random.Random(seed)
    data = init() + reader_add(b"random") + _atr_stream(150) + msg(APDU, 0, bytes(3000)) + \
        msg(0x42, 3, b"x" * 500) + _atr_stream(150) + msg(CARD_REMOVE, 0) + init()
    sizes = [rng.choice([1, 7, 12, 52, 100, 1000, 4095, 4096, 4097, 6000]) for _ in range(40)]
    return Conversation(f"random_splits_seed_{seed}", _cut(data, sizes),
                        f"a 19 KiB stream cut at random places (random.Random({seed}))")


def all_conversations():
    return [normal_session(), libcacard_style_session(), second_reader(), good_atrs(),
            bad_atrs(), atr_before_reader(), no_init(), unknown_types(), flush_from_client(),
            malformed_init(), client_error_messages(), odd_reader_names(), pipelined(),
            byte_by_byte(), split_at_odd_places(), card_remove_insert(), reader_remove(),
            largest_message(), oversize_message(), oversize_header_only(), oversize_stream(),
            reconnecting_client(), one_byte_at_a_time(), writes_of_4k_around(),
            many_messages_per_write(), write_ends_exactly_at_64k(),
            largest_message_and_more_in_one_write(), write_just_past_64k_unaligned(),
            random_splits(18), random_splits(2026)]
