"""Krateo's ``api`` block and endpoint Secrets: what to request and how to reach the server.

Layer: ``sources``. ``ApiConfig`` is ``exporterConfig.api`` / ``scraperConfig.api``
(``path``, ``verb``, ``headers`` as ``"Key: Value"``, ``payload``, ``endpointRef``). ``Endpoint``
is an endpoint Secret in Krateo's key format (reference §3): ``server-url`` (required), ``token``,
``username``/``password``, ``certificate-authority-data``, ``client-certificate-data``,
``client-key-data``, ``insecure``, ``proxy-url``. Unlike Krateo, the CA is honoured in every auth
mode and TLS verification stays on unless ``insecure: "true"`` (R25). Credentials are
``SecretStr`` and never appear in reprs, logs or errors.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
from collections.abc import Mapping

from pydantic import Field, SecretStr, field_validator

from focusflow.errors import ConfigError
from focusflow.sources.models import KrateoModel


class ObjectRef(KrateoModel):
    """A reference to a namespaced object (``{name, namespace}``)."""

    name: str = Field(min_length=1)
    namespace: str = "default"


class ApiConfig(KrateoModel):
    """What to request: Krateo's ``api`` block."""

    path: str = ""
    verb: str = "GET"
    headers: tuple[str, ...] = ()
    payload: str = ""
    endpoint_ref: ObjectRef | None = None

    @field_validator("verb")
    @classmethod
    def _verb(cls, value: str) -> str:
        verb = (value or "GET").strip().upper()
        if verb not in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}:
            raise ValueError(f"unsupported HTTP verb {value!r}")
        return verb

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for header in value:
            name, sep, _ = header.partition(":")
            if not sep or not name.strip():
                raise ValueError(f"header {name.strip()[:40]!r}: expected 'Key: Value'")
        return value

    def header_map(self) -> dict[str, str]:
        """Headers split at the first ``:`` and trimmed, as Krateo does."""
        out: dict[str, str] = {}
        for header in self.headers:
            name, _, value = header.partition(":")
            out[name.strip()] = value.strip()
        return out


class Endpoint(KrateoModel):
    """A resolved endpoint Secret."""

    server_url: str
    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    certificate_authority_data: SecretStr | None = None
    client_certificate_data: SecretStr | None = None
    client_key_data: SecretStr | None = None
    insecure: bool = False
    proxy_url: SecretStr | None = None

    @classmethod
    def from_secret(cls, data: Mapping[str, SecretStr], *, where: str) -> Endpoint:
        """Build from Secret keys (``server-url``, ``token``, ...); ``where`` names the Secret."""
        values = {key: secret.get_secret_value() for key, secret in data.items()}
        if not values.get("server-url", "").strip():
            raise ConfigError(f"{where}: key server-url is missing or empty")
        if values.get("aws-access-key") or values.get("aws-secret-key"):
            raise ConfigError(f"{where}: AWS request signing (aws-* keys) is not supported; "
                              "use a token or username/password")
        modes = [bool(values.get("token")), bool(values.get("password")),
                 bool(values.get("aws-access-key"))]
        if sum(modes) > 1:
            raise ConfigError(f"{where}: only one of username/password, bearer token and AWS "
                              "must be set")
        fields = {
            "server_url": values["server-url"].strip(),
            "token": values.get("token") or None,
            "username": values.get("username") or None,
            # Basic auth is active only when the password is non-empty (Krateo's rule).
            "password": values.get("password") or None,
            "certificate_authority_data": values.get("certificate-authority-data") or None,
            "client_certificate_data": values.get("client-certificate-data") or None,
            "client_key_data": values.get("client-key-data") or None,
            "insecure": values.get("insecure", "").strip().lower() in {"true", "1", "t", "yes"},
            "proxy_url": values.get("proxy-url") or None,
        }
        return cls.parse(fields, where=where)

    def url_for(self, path: str) -> str:
        """``server-url`` without trailing ``/`` + ``/`` + ``path`` without leading ``/``."""
        return self.server_url.rstrip("/") + "/" + path.lstrip("/")

    def ssl_context(self) -> ssl.SSLContext | bool:
        """TLS settings: ``False`` only when ``insecure``; custom CA and client cert honoured."""
        if self.insecure:
            return False
        context = ssl.create_default_context()
        if self.certificate_authority_data is not None:
            context.load_verify_locations(cadata=_pem(self.certificate_authority_data, "CA"))
        if self.client_certificate_data is not None and self.client_key_data is not None:
            _load_client_cert(context, _pem(self.client_certificate_data, "client certificate"),
                              _pem(self.client_key_data, "client key"))
        return context


def _pem(value: SecretStr, what: str) -> str:
    """The PEM text of a ``*-data`` key: base64 of PEM, or already PEM."""
    text = value.get_secret_value().strip()
    if text.startswith("-----BEGIN"):
        return text
    try:
        return base64.b64decode(text, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"endpoint {what} data is neither PEM nor base64 PEM") from exc


def _load_client_cert(context: ssl.SSLContext, cert: str, key: str) -> None:
    # ssl only loads client certificates from files: write them to a private temp dir briefly.
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = os.path.join(folder, "tls.crt"), os.path.join(folder, "tls.key")
        for path, text in ((cert_path, cert), (key_path, key)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
                handle.write(text)
        try:
            context.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as exc:
            raise ConfigError("endpoint client certificate/key cannot be loaded") from exc
