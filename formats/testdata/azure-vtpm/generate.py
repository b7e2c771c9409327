"""Generates the test vTPM PKI of this directory (see formats/testdata/README.md); run from anywhere."""
import json, base64, datetime
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

d = json.load(open('/work/main/formats/testdata/maa-rest-spec/AttestAzureGuestVm.json'))
s = d['parameters']['request']['attestationInfo']
info = json.loads(base64.urlsafe_b64decode(s + '=' * (-len(s) % 4)))
pub = base64.b64decode(info['TpmInfo']['AikPub'])
# TPM2B_PUBLIC: size(2) type(2) nameAlg(2) attrs(4) authPolicy(2+n) params: sym(2) scheme(2 [+2]) keyBits(2) exponent(4) unique(2+n)
i = 2
typ = int.from_bytes(pub[i:i+2], 'big'); i += 2
i += 2 + 4
n = int.from_bytes(pub[i:i+2], 'big'); i += 2 + n
sym = int.from_bytes(pub[i:i+2], 'big'); i += 2
assert sym == 0x10
scheme = int.from_bytes(pub[i:i+2], 'big'); i += 2
if scheme != 0x10: i += 2
bits = int.from_bytes(pub[i:i+2], 'big'); i += 2
exp = int.from_bytes(pub[i:i+4], 'big') or 65537; i += 4
m = int.from_bytes(pub[i:i+2], 'big'); i += 2
modulus = int.from_bytes(pub[i:i+m], 'big')
ak = rsa.RSAPublicNumbers(exp, modulus).public_key()
print('AK bits', bits, 'exp', exp)

def name(cn, microsoft=False):
    attrs = []
    if microsoft:
        attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, 'US'), x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'Microsoft Corporation')]
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])

def root(subject, hash_alg, key):
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime(2023, 6, 1, tzinfo=datetime.timezone.utc))
        .not_valid_after(datetime.datetime(2048, 6, 1, tzinfo=datetime.timezone.utc))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hash_alg))

out = '/work/main/formats/testdata/azure-vtpm/'
impostor_key = rsa.generate_private_key(65537, 2048)
impostor = root(name('Azure Virtual TPM Root Certificate Authority 2023', True), hashes.SHA384(), impostor_key)
open(out + 'impostor-root.pem', 'wb').write(impostor.public_bytes(serialization.Encoding.PEM))

test_key = rsa.generate_private_key(65537, 2048)
test_root = root(name('cvm-attest test vTPM root'), hashes.SHA512(), test_key)
open(out + 'test-root.pem', 'wb').write(test_root.public_bytes(serialization.Encoding.PEM))

def ak_cert(cn, **sign):
    return (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(test_root.subject)
        .public_key(ak).serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
        .not_valid_after(datetime.datetime(2034, 1, 1, tzinfo=datetime.timezone.utc))
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier('2.23.133.8.3')]), critical=False)
        .sign(test_key, hashes.SHA256(), **sign))

open(out + 'test-ak-cert.der', 'wb').write(ak_cert('azure-guest-ak.test').public_bytes(serialization.Encoding.DER))
# The same, signed with RSASSA-PSS, an algorithm the Azure vTPM PKI does not use.
pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
open(out + 'test-ak-cert-pss.der', 'wb').write(
    ak_cert('azure-guest-ak-pss.test', rsa_padding=pss).public_bytes(serialization.Encoding.DER))
