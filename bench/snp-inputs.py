#!/usr/bin/env python3
"""Write the inputs snpguest needs for the SEV-SNP evidence bundle cvm-attest verifies.

    snp-inputs.py EVIDENCE.json ANCHORS_DIR OUT_DIR

EVIDENCE.json is an evidence bundle (examples/evidence/azure-sev-snp.json): its `hcl_report` is
Azure's 2600-byte HCL report (base64url), whose bytes [0x20, 0x20 + 1184) are the SNP
ATTESTATION_REPORT the AMD firmware signed (formats/src/hcl.rs), and its `vcek` is the chip's VCEK
(base64 DER). ARK-Milan and SEV-Milan (the ASK) are AMD's, from ANCHORS_DIR (formats/anchors/).

Writes OUT_DIR/report.bin (the raw 1184-byte report) and OUT_DIR/certs/{ark,ask}.pem and
OUT_DIR/certs/vcek.der: the names snpguest's `verify certs` and `verify attestation` look for
(`ark`, `ask`, `vcek`, each `.pem` or `.der`). Standard library only; nothing is fetched.
"""

import base64
import json
import shutil
import struct
import sys
from pathlib import Path

HCL_HEADER = 0x20  # "HCLA" signature, version, report size, request type, status, reserved
SNP_REPORT_SIZE = 1184


def b64_any(text: str) -> bytes:
    """base64 or base64url, padded or not (the bundle uses base64url)."""
    text = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    evidence, anchors, out = (Path(a) for a in sys.argv[1:])
    bundle = json.loads(evidence.read_text())

    hcl = b64_any(bundle["hcl_report"])
    if hcl[:4] != b"HCLA":
        sys.exit(f"{evidence}: hcl_report does not start with the HCL signature 'HCLA'")
    report = hcl[HCL_HEADER : HCL_HEADER + SNP_REPORT_SIZE]
    if len(report) != SNP_REPORT_SIZE:
        sys.exit(f"{evidence}: hcl_report is {len(hcl)} bytes, too short for an SNP report at 0x20")
    version, _guest_svn, _policy = struct.unpack_from("<IIQ", report, 0)
    if version not in (2, 3, 4, 5):
        sys.exit(f"{evidence}: the hardware report at 0x20 has version {version}: not an SNP report")

    certs = out / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    (out / "report.bin").write_bytes(report)
    (certs / "vcek.der").write_bytes(b64_any(bundle["vcek"]))
    shutil.copyfile(anchors / "milan-ark.pem", certs / "ark.pem")
    shutil.copyfile(anchors / "milan-ask.pem", certs / "ask.pem")
    print(f"SNP report v{version} ({len(report)} bytes) and ARK/ASK/VCEK written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
