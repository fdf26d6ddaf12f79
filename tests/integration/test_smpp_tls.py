"""SMPP over TLS against the simulator over a real socket: a connector binds only to an SMSC
whose certificate it trusts (the system's store, or the CA file it is given), and the
dispatch binds with the CA file its connector names."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smsvia.channels.smpp import SmppChannel, SmppConfig
from smsvia.dispatch.runner import Dispatch
from smsvia.services import senders
from tests.integration.test_smpp_session import Handler, sent_and_acknowledged, smsc


def certificate(tmp_path, stem: str = "smsc") -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smsc.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{stem}.pem", tmp_path / f"{stem}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_a_tls_connector_binds_only_to_an_smsc_whose_certificate_it_trusts(tmp_path, monkeypatch):
    cert, key = certificate(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)

    async def scenario(trusted: bool) -> SmppChannel:
        if trusted:
            monkeypatch.setenv("SSL_CERT_FILE", cert)  # the trust store the channel reads
        else:
            monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        handler = Handler()
        async with smsc(tls=server, dlr_delay=0) as sim:
            config = SmppConfig(
                "127.0.0.1", sim.port, "smsvia", "secret", tls=True, connect_timeout=2
            )
            channel = SmppChannel("smsc", config)
            await channel.start(handler)
            try:
                if trusted:
                    assert await channel.wait_bound(5)
                    await sent_and_acknowledged(channel, sim, handler)
                else:
                    assert not await channel.wait_bound(1)
                    assert sim.binds == 0
                return channel
            finally:
                await channel.close()

    assert asyncio.run(scenario(trusted=True)).binds == 1
    refused = asyncio.run(scenario(trusted=False))
    assert "TLS with the SMSC" in (refused.last_error or "")
    assert "CERTIFICATE_VERIFY_FAILED" in (refused.last_error or "")


def test_a_connector_trusts_the_ca_file_it_is_given_instead_of_the_trust_store(
    tmp_path, monkeypatch
):
    cert, key = certificate(tmp_path)
    stranger, _ = certificate(tmp_path, "stranger")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", stranger)  # the trust store does not know the SMSC

    async def scenario(ca_file: str) -> SmppChannel:
        handler = Handler()
        async with smsc(tls=server, dlr_delay=0) as sim:
            config = SmppConfig(
                "127.0.0.1",
                sim.port,
                "smsvia",
                "secret",
                tls=True,
                tls_ca=ca_file,
                connect_timeout=2,
            )
            channel = SmppChannel("smsc", config)
            await channel.start(handler)
            try:
                if ca_file == cert:
                    assert await channel.wait_bound(5)
                    await sent_and_acknowledged(channel, sim, handler)
                else:
                    assert not await channel.wait_bound(1)
                return channel
            finally:
                await channel.close()

    assert asyncio.run(scenario(cert)).binds == 1
    refused = asyncio.run(scenario(stranger))
    assert "CERTIFICATE_VERIFY_FAILED" in (refused.last_error or "")


def test_the_dispatch_binds_with_the_ca_file_its_connector_names(backend, tmp_path, monkeypatch):
    cert, key = certificate(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)  # the system's store knows it not

    async def scenario() -> bool:
        async with smsc(tls=server, dlr_delay=0) as sim:
            settings = senders.SmppSettings("127.0.0.1", sim.port, "smsvia", tls=True, tls_ca=cert)
            await senders.add_smpp_connector(backend.store, "private", settings, "secret")
            dispatch = Dispatch(backend.store)
            await dispatch.start()
            try:
                (channel,) = dispatch.channels.values()
                return await channel.wait_bound(5)
            finally:
                await dispatch.stop()

    assert backend.run(scenario())
