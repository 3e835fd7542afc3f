#!/usr/bin/env python3
"""Independent check of a certificate that Aula issued, with a well-known JOSE library
(jwcrypto), not Aula's code.

Given the credential (a compact VC-JWT, Open Badges 3.0 `OpenBadgeCredential`) and the JWKS
that Aula publishes, it checks:

  1. the ES256 signature, with the key the JWT header's `kid` names in the JWKS;
  2. the JWT claims against the credential: iss = issuer.id, jti = id,
     sub = credentialSubject.id, nbf = validFrom (and exp = validUntil), and the dates;
  3. the status: fetches the Bitstring Status List credential the credential points to,
     verifies its signature the same way, decodes the GZIP bitstring and reads the
     credential's bit (1 = revoked).

Each source may be a file or an http(s) URL. Prints what it checked; exits 0 only when all
checks pass, 1 on a tampered or revoked credential or any mismatch, 2 on bad usage.

    verify_credential.py --credential cert.jwt --jwks https://aula.example/.well-known/jwks.json
    verify_credential.py --credential URL --jwks URL [--status-list FILE_OR_URL]

`--status-list` overrides the credential's statusListCredential URL (for tests with files).
"""

import argparse
import base64
import gzip
import json
import sys
import urllib.request
from datetime import datetime, timezone

from jwcrypto import jwk, jws

OB_CONTEXT_PREFIX = "https://purl.imsglobal.org/spec/ob/v3p0/context"
VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
MIN_BITS = 131072


class CheckFailed(Exception):
    pass


def ok(message):
    print(f"OK     {message}")


def require(condition, message):
    if not condition:
        raise CheckFailed(message)
    ok(message)


def read_source(source):
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=30) as response:
            return response.read().decode("utf-8")
    with open(source, encoding="utf-8") as f:
        return f.read()


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def parse_date(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def verify_jwt(token, jwks, what):
    """Verifies a compact JWS with the JWKS key its header names; returns the payload."""
    parts = token.split(".")
    if len(parts) != 3:
        raise CheckFailed(f"{what}: no es un JWT compacto (tiene {len(parts)} partes)")
    header = json.loads(b64url_decode(parts[0]))
    require(header.get("alg") == "ES256", f"{what}: alg es ES256")
    require(header.get("typ") in (None, "JWT"), f"{what}: typ es JWT")
    extra = set(header) - {"alg", "kid", "typ"}
    require(not extra, f"{what}: el encabezado no tiene parámetros de más {sorted(extra) or ''}")
    kid = header.get("kid")
    require(isinstance(kid, str), f"{what}: el encabezado nombra su clave (kid {kid})")
    key = jwks.get_key(kid)
    require(key is not None, f"{what}: el JWKS publicado tiene la clave {kid}")
    require(
        key.get("kty") == "EC" and key.get("crv") == "P-256" and not key.has_private,
        f"{what}: la clave es una clave pública P-256",
    )
    signed = jws.JWS()
    signed.deserialize(token)
    try:
        signed.verify(key, alg="ES256")
    except jws.InvalidJWSSignature as e:
        raise CheckFailed(f"{what}: la firma ES256 NO es válida (credencial alterada): {e}")
    ok(f"{what}: firma ES256 válida (jwcrypto)")
    return json.loads(signed.payload)


def check_claims(payload, what, now):
    issuer = payload.get("issuer")
    issuer_id = issuer if isinstance(issuer, str) else (issuer or {}).get("id")
    require(payload.get("iss") == issuer_id and issuer_id, f"{what}: iss = issuer.id ({issuer_id})")
    require(payload.get("jti") == payload.get("id") and payload.get("id"), f"{what}: jti = id ({payload.get('id')})")
    subject = payload.get("credentialSubject") or {}
    require(payload.get("sub") == subject.get("id"), f"{what}: sub = credentialSubject.id ({subject.get('id')})")
    valid_from = parse_date(payload["validFrom"])
    require(payload.get("nbf") == int(valid_from.timestamp()), f"{what}: nbf = validFrom ({payload['validFrom']})")
    require(now >= valid_from, f"{what}: ya es válida (desde {payload['validFrom']})")
    if "validUntil" in payload or "exp" in payload:
        valid_until = parse_date(payload["validUntil"])
        require(payload.get("exp") == int(valid_until.timestamp()), f"{what}: exp = validUntil")
        require(now < valid_until, f"{what}: no venció (hasta {payload['validUntil']})")


def check_status(credential, jwks, override, now):
    status = credential.get("credentialStatus")
    require(isinstance(status, dict), "credencial: tiene credentialStatus")
    require(status.get("type") == "BitstringStatusListEntry", "estado: es un BitstringStatusListEntry")
    require(status.get("statusPurpose") == "revocation", "estado: propósito revocation")
    index = int(status["statusListIndex"])
    url = status["statusListCredential"]
    token = read_source(override or url).strip()
    status_list = verify_jwt(token, jwks, "lista de estados")
    check_claims(status_list, "lista de estados", now)
    require(status_list.get("id") == url, f"lista de estados: es la que nombra la credencial ({url})")
    require(
        status_list.get("iss") == credential.get("iss"),
        "lista de estados: la emitió el mismo emisor que la credencial",
    )
    require("BitstringStatusListCredential" in status_list.get("type", []), "lista de estados: tipo BitstringStatusListCredential")
    subject = status_list.get("credentialSubject") or {}
    require(subject.get("type") == "BitstringStatusList", "lista de estados: sujeto BitstringStatusList")
    require(subject.get("statusPurpose") == "revocation", "lista de estados: propósito revocation")
    encoded = subject.get("encodedList", "")
    require(encoded.startswith("u"), "lista de estados: encodedList en multibase base64url ('u')")
    bits = gzip.decompress(b64url_decode(encoded[1:]))
    require(len(bits) * 8 >= MIN_BITS, f"lista de estados: {len(bits) * 8} entradas (mínimo {MIN_BITS})")
    require(index < len(bits) * 8, f"estado: el índice {index} está en la lista")
    revoked = (bits[index // 8] >> (7 - index % 8)) & 1
    require(revoked == 0, f"estado: el bit {index} es 0 (no revocada)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--credential", required=True, help="archivo o URL con la credencial (VC-JWT)")
    parser.add_argument("--jwks", required=True, help="archivo o URL del JWKS publicado")
    parser.add_argument("--status-list", help="archivo o URL de la lista de estados (si no, la URL de la credencial)")
    args = parser.parse_args()
    now = datetime.now(timezone.utc)
    try:
        jwks = jwk.JWKSet.from_json(read_source(args.jwks))
        ok(f"JWKS leído: {len(jwks['keys'])} clave(s)")
        token = read_source(args.credential).strip()
        credential = verify_jwt(token, jwks, "credencial")
        check_claims(credential, "credencial", now)
        require(
            VC_V2_CONTEXT in credential.get("@context", [])
            and any(str(c).startswith(OB_CONTEXT_PREFIX) for c in credential.get("@context", [])),
            "credencial: contextos VC 2.0 y Open Badges 3.0",
        )
        require("OpenBadgeCredential" in credential.get("type", []), "credencial: tipo OpenBadgeCredential")
        achievement = (credential.get("credentialSubject") or {}).get("achievement") or {}
        require(achievement.get("name"), f"credencial: logro «{achievement.get('name')}»")
        check_status(credential, jwks, args.status_list, now)
    except CheckFailed as e:
        print(f"FALLA  {e}")
        return 1
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"FALLA  no se pudo verificar: {type(e).__name__}: {e}")
        return 1
    print("VÁLIDA la credencial está firmada por su emisor, sus datos coinciden y no fue revocada")
    return 0


if __name__ == "__main__":
    sys.exit(main())
