#!/usr/bin/env python3
"""Check the test PKI's certificates carry what the project's parsers read (python3 stdlib only).

Reads the VCEK extensions as formats/src/appraise/snp.rs does (each SPL a DER INTEGER in the
extnValue, hwID the 64 raw bytes) and the SGX extension as formats/src/intel/pck.rs does (SEQUENCE
OF SEQUENCE { OID, value }, FMSPC/PCE-ID/CPUSVN OCTET STRINGs, SVNs INTEGERs), and compares them with
the fixed values in README.md; and that the TLS server certificate names exactly the loopback
addresses the simulator listens on (SAN IP 127.0.0.1 and DNS localhost, serverAuth) and the MAA token
signing certificate is not a CA (basicConstraints CA:FALSE), as a real MAA signing certificate. Usage: python3 check.py  (from any directory).
"""
import base64, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))


def tlv(data, at=0):
    """(tag, value, next offset) of the DER element at `at` (definite lengths only)."""
    tag, length, at = data[at], data[at + 1], at + 2
    if length & 0x80:
        n = length & 0x7F
        length, at = int.from_bytes(data[at:at + n], "big"), at + n
    return tag, data[at:at + length], at + length


def children(value):
    out, at = [], 0
    while at < len(value):
        tag, inner, at = tlv(value, at)
        out.append((tag, inner))
    return out


def oid(value):
    arcs, n = [], 0
    for b in value:
        n = n << 7 | b & 0x7F
        if not b & 0x80:
            arcs.append(n)
            n = 0
    return ".".join(map(str, [min(arcs[0] // 40, 2), arcs[0] - 40 * min(arcs[0] // 40, 2)] + arcs[1:]))


def uint(tag, value):
    """An unsigned DER INTEGER, canonical as the `der` crate requires."""
    assert tag == 0x02 and value, "not an INTEGER"
    assert not (value[0] == 0 and len(value) > 1 and value[1] < 0x80), "non-canonical INTEGER"
    assert value[0] < 0x80, "negative INTEGER"
    return int.from_bytes(value, "big")


def extensions(name):
    pem = open(os.path.join(HERE, name)).read().split("-----")[2]
    _, cert, _ = tlv(base64.b64decode(pem))
    tbs = children(children(cert)[0][1])
    explicit = [v for t, v in tbs if t == 0xA3][0]
    exts = {}
    for _, ext in children(children(explicit)[0][1]):
        parts = children(ext)
        exts[oid(parts[0][1])] = parts[-1][1]  # extnValue's contents
    return exts


def check_vcek():
    exts = extensions("amd-test-vcek.pem")
    arc = "1.3.6.1.4.1.3704.1."
    spl = {name: uint(*tlv(exts[arc + "3." + n])[:2])
           for name, n in [("bl", "1"), ("tee", "2"), ("snp", "3"), ("ucode", "8")]}
    assert spl == {"bl": 4, "tee": 0, "snp": 24, "ucode": 219}, spl
    assert exts[arc + "4"] == b"\x5a" * 64, "hwID is not 64 raw bytes 0x5a"
    assert tlv(exts[arc + "2"])[:2] == (0x16, b"Milan-B0"), "productName"
    print("VCEK: blSPL 4, teeSPL 0, snpSPL 24, ucodeSPL 219, hwID 64 x 0x5a, productName Milan-B0")


def check_pck():
    sgx = "1.2.840.113741.1.13.1"
    tag, value, _ = tlv(extensions("intel-test-pck.pem")[sgx])
    assert tag == 0x30
    entries = {}
    for entry_tag, entry in children(value):
        assert entry_tag == 0x30, "an SGX entry is not a SEQUENCE"
        (ot, ov), (vt, vv) = children(entry)
        assert ot == 0x06
        entries[oid(ov)] = (vt, vv)
    assert entries[sgx + ".4"] == (0x04, bytes.fromhex("00806f050000")), "FMSPC"
    assert entries[sgx + ".3"] == (0x04, bytes.fromhex("0000")), "PCE-ID"
    assert entries[sgx + ".5"] == (0x0A, b"\x01"), "SGX Type"
    tcb_tag, tcb = entries[sgx + ".2"]
    assert tcb_tag == 0x30
    members = {}
    for _, member in children(tcb):
        (_, ov), (vt, vv) = children(member)
        members[int(oid(ov).rsplit(".", 1)[1])] = (vt, vv)
    comps = [uint(*members[i]) for i in range(1, 17)]
    assert comps == [6, 6, 2, 2, 3, 1, 0, 3] + [0] * 8, comps
    assert uint(*members[17]) == 11, "PCESVN"
    assert members[18] == (0x04, bytes(comps)), "CPUSVN"
    print("PCK: FMSPC 00806f050000, PCE-ID 0000, SGX TCB", comps, "PCESVN 11, CPUSVN", bytes(comps).hex())


def check_tls_server():
    exts = extensions("tls-test-server.pem")
    _, san, _ = tlv(exts["2.5.29.17"])
    names = sorted((tag, value) for tag, value in children(san))
    assert names == [(0x82, b"localhost"), (0x87, bytes([127, 0, 0, 1]))], names
    _, eku, _ = tlv(exts["2.5.29.37"])
    assert [oid(v) for _, v in children(eku)] == ["1.3.6.1.5.5.7.3.1"], "EKU is not serverAuth alone"
    print("TLS server: SAN IP 127.0.0.1 and DNS localhost, EKU serverAuth")


def check_maa_signing():
    for name in ("maa-test-signing.pem", "maa-test-unknown-signing.pem"):
        tag, value, _ = tlv(extensions(name)["2.5.29.19"])
        assert (tag, value) == (0x30, b""), name + ": basicConstraints is not CA:FALSE"
    print("MAA signing: basicConstraints CA:FALSE")


if __name__ == "__main__":
    check_vcek()
    check_pck()
    check_tls_server()
    check_maa_signing()
    print("OK")
