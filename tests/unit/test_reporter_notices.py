"""What the reporter is told, per kind of change: Vietnamese, the tracking code, one SMS without diacritics, the link
to their own page, never anyone's personal data and never a state secret's content. And the ports' adapters:
Web Push's encryption read back as a browser would, its VAPID headers, the SMTP adapter against a local server."""
from __future__ import annotations

import json
import os
import socketserver
import struct
import threading
from datetime import datetime, timezone

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from paht.runtime.mail import DevOutboxEmail, EmailUnavailable, SmtpEmail, UnconfiguredEmail, email_from
from paht.runtime.text import unaccent
from paht.runtime.webpush import (DevOutboxPush, PushGone, PushSubscription, PushUnavailable, UnconfiguredPush, VapidWebPush, b64url,
                                  encrypt, push_from, unb64url)
from services.intake.domain import notices as words
from services.intake.domain.vocabulary import NoticeKind

CODE = "QB-7K3M-9XTP"
LINK = words.link_for("https://paht.quangbinh.gov.vn", CODE)
DUE = datetime(2026, 3, 5, 2, 30, tzinfo=timezone.utc)  # 09:30 in Vietnam
LONG = "Nội dung phản ánh chưa rõ ràng, không xác định được vị trí và thời điểm xảy ra sự việc; " * 5

MESSAGES = {
    "accepted": words.accepted(CODE),
    "refused": words.refused(CODE, LONG),
    "cancelled": words.cancelled(CODE, "Không bổ sung, chỉnh sửa phản ánh theo đề nghị trong thời hạn 02 ngày."),
    "edit_requested": words.edit_requested(CODE, "Vui lòng bổ sung ảnh chụp ổ gà và số nhà gần nhất.", DUE),
    "message": words.message(CODE),
    "dispatched": words.dispatched(CODE, "Sở Giao thông vận tải"),
    "in_handling": words.in_handling(CODE, "Phòng Quản lý kết cấu hạ tầng giao thông"),
    "answered": words.answered(CODE, "public", "Sở đã vá ổ gà ngày 03/3.", False),
    "answered_privately": words.answered(CODE, "reporter_only", "Nội dung trả lời riêng: đã xử lý hộ gia đình vi phạm.", False),
    "concluded": words.answered(CODE, "state_secret", "TUYỆT MẬT: nội dung không được gửi.", True),
    "clarified": words.clarified(CODE, "Giải thích thêm: kinh phí sửa chữa từ ngân sách phường.", False),
}


@pytest.mark.parametrize("name", list(MESSAGES))
def test_every_notice_names_the_report_in_vietnamese_and_fits_one_sms_with_the_link(name):
    message = MESSAGES[name]
    assert message.kind is NoticeKind(name)
    sentence = message.sentence()
    assert sentence.startswith("PAHT: ") and CODE in sentence and "Phản ánh" in sentence or "phản ánh" in sentence
    sms = words.render("sms", message.text_for("sms"), LINK)
    assert sms.isascii() and len(sms) <= words.SMS_LIMIT, sms      # GSM-7 without diacritics: one message
    assert CODE in sms and sms.endswith(" Xem: " + LINK)
    email = words.render("email", message.text_for("email"), LINK)
    assert CODE in email and email.endswith(LINK) and message.subject().startswith(f"[PAHT] Phản ánh {CODE}: ")
    push = words.render("push", message.text_for("push"), LINK)
    assert push.startswith(sentence) and LINK in push


def test_the_words_carry_what_the_reporter_needs_and_nothing_of_anyone_else():
    assert "Sở Giao thông vận tải" in MESSAGES["dispatched"].sentence()
    assert "Phòng Quản lý kết cấu hạ tầng giao thông" in MESSAGES["in_handling"].sentence()
    edit = MESSAGES["edit_requested"]
    assert "09:30 05/03" in edit.sentence() and "ảnh chụp ổ gà" in edit.sentence()
    assert "Bo sung phan anh QB-7K3M-9XTP truoc 09:30 05/03: Vui long bo sung anh chup o ga" in words.render("sms", edit.text_for("sms"), LINK)
    refused = words.render("sms", MESSAGES["refused"].text_for("sms"), LINK)
    assert "khong duoc tiep nhan: Noi dung phan anh chua ro rang" in refused and "..." in refused  # cut short: the page has all
    assert LONG.strip() in MESSAGES["refused"].text_for("email")  # the e-mail carries the whole reason
    # an IOC message: where to read it, never what it says
    assert MESSAGES["message"].text_for("email") == MESSAGES["message"].sentence()
    for message in MESSAGES.values():
        for channel in ("sms", "email", "push"):
            text = message.text_for(channel)
            assert "09" not in text.replace("09:30", "") and "@" not in text  # no phone number, no address


def test_a_private_answer_goes_to_the_reporter_alone_and_a_state_secret_says_only_that_it_is_concluded():
    private = MESSAGES["answered_privately"]
    assert "riêng cho bạn" in private.sentence()
    assert "đã xử lý hộ gia đình vi phạm" in private.text_for("email")              # their own mailbox: the answer itself
    assert "vi phạm" not in private.text_for("sms") and "vi pham" not in private.text_for("sms")
    assert "vi phạm" not in private.text_for("push")                               # a locked screen shows pushes
    public = MESSAGES["answered"]
    assert public.kind is NoticeKind.ANSWERED and "đã vá ổ gà" in public.text_for("email")
    secret = MESSAGES["concluded"]
    assert secret.kind is NoticeKind.CONCLUDED and secret.sentence() == f"PAHT: Phản ánh {CODE} đã được xử lý xong."
    for channel in ("sms", "email", "push"):
        assert "MẬT" not in secret.text_for(channel) and "MAT" not in secret.text_for(channel)
    assert words.clarified(CODE, "bí mật", True).sentence() == f"PAHT: Phản ánh {CODE} đã được xử lý xong."


def test_unaccent_keeps_the_case_and_removes_every_vietnamese_mark():
    assert unaccent("Đường Lê Lợi, phường Đồng Phú: ổ gà") == "Duong Le Loi, phuong Dong Phu: o ga"
    assert unaccent("ỸỹẶặ").isascii()


# ---- Web Push: RFC 8291 encryption as a browser decrypts it; VAPID as a push service checks it ----------------

def browser_keys():
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return private, b64url(public), b64url(os.urandom(16))


def browser_decrypt(body: bytes, private, p256dh: str, auth: str) -> bytes:
    """What the browser does with a pushed message (RFC 8291 section 3.4, read side)."""
    salt, rs, idlen = body[:16], struct.unpack("!I", body[16:20])[0], body[20]
    sender_public, ciphertext = body[21:21 + idlen], body[21 + idlen:]
    assert rs == 4096 and idlen == 65
    shared = private.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_public))
    ikm = HKDF(hashes.SHA256(), 32, salt=unb64url(auth), info=b"WebPush: info\x00" + unb64url(p256dh) + sender_public).derive(shared)
    cek = HKDF(hashes.SHA256(), 16, salt=salt, info=b"Content-Encoding: aes128gcm\x00").derive(ikm)
    nonce = HKDF(hashes.SHA256(), 12, salt=salt, info=b"Content-Encoding: nonce\x00").derive(ikm)
    padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
    assert padded.endswith(b"\x02")
    return padded[:-1]


def test_a_pushed_message_is_read_back_by_the_browser_it_was_encrypted_for_and_no_other():
    private, p256dh, auth = browser_keys()
    body = encrypt("PAHT: Phản ánh QB-7K3M-9XTP đã có kết quả trả lời.".encode(), p256dh, auth)
    assert browser_decrypt(body, private, p256dh, auth).decode() == "PAHT: Phản ánh QB-7K3M-9XTP đã có kết quả trả lời."
    other, other_p256dh, _ = browser_keys()
    with pytest.raises(Exception):
        browser_decrypt(body, other, p256dh, auth)
    with pytest.raises(ValueError):
        encrypt(b"x", "AAAA", auth)


def vapid_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                                serialization.NoEncryption())


def test_the_vapid_adapter_posts_an_encrypted_signed_message_and_tells_a_gone_browser_from_a_down_service():
    private, p256dh, auth = browser_keys()
    seen: list[httpx.Request] = []
    answers = iter([201, 410, 503])

    def push_service(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(next(answers), headers={"Location": "https://push.example.net/m/1"})

    pem = vapid_pem()
    push = VapidWebPush(pem, "mailto:ioc@quangbinh.gov.vn", transport=httpx.MockTransport(push_service))
    browser = PushSubscription("https://push.example.net/send/abc", p256dh, auth)
    payload = {"title": "PAHT", "body": "Phản ánh QB-7K3M-9XTP", "url": LINK}
    assert push.send(browser, payload, key="event-1:push") == "https://push.example.net/m/1"
    request = seen[0]
    assert request.headers["Content-Encoding"] == "aes128gcm" and request.headers["TTL"] and len(request.headers["Topic"]) <= 32
    assert json.loads(browser_decrypt(request.content, private, p256dh, auth)) == payload
    scheme, _, rest = request.headers["Authorization"].partition(" ")
    token = rest.split(",")[0].strip().removeprefix("t=")
    public_key = rest.split("k=")[1]
    assert scheme == "vapid" and public_key == push.public_key
    verifier = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    claims = jwt.decode(token, verifier, algorithms=["ES256"], audience="https://push.example.net")
    assert claims["sub"] == "mailto:ioc@quangbinh.gov.vn"
    with pytest.raises(PushGone):
        push.send(browser, payload, key="event-2:push")
    with pytest.raises(PushUnavailable) as down:
        push.send(browser, payload)
    assert not isinstance(down.value, PushGone)


def test_push_is_offered_only_with_a_vapid_key_and_refused_in_production_without_one(tmp_path):
    from tests.support.services import test_settings

    assert isinstance(push_from(test_settings(tmp_path)), DevOutboxPush) and DevOutboxPush.public_key is None
    key_file = tmp_path / "vapid.pem"
    key_file.write_bytes(vapid_pem())
    assert push_from(test_settings(tmp_path, vapid_private_key_file=key_file)).public_key
    with pytest.raises(PushUnavailable) as refused:
        UnconfiguredPush().send(PushSubscription("https://x", "a", "b"), {})
    assert "VAPID" in refused.value.detail_en and "VAPID" in refused.value.detail_vi


# ---- e-mail: SMTP against a local server that speaks just enough of it ------------------------------------

class SmtpHandler(socketserver.StreamRequestHandler):
    def handle(self):
        server = self.server
        self.wfile.write(b"220 test ESMTP\r\n")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250-test\r\n250 8BITMIME\r\n")
            elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                server.envelope.append(line.decode().strip())
                self.wfile.write(b"250 ok\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    data += self.rfile.readline()
                server.messages.append(data)
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"502 not here\r\n")


def test_the_smtp_adapter_hands_the_message_to_the_mail_server_with_the_key_as_its_message_id():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SmtpHandler)
    server.messages, server.envelope = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        mail = SmtpEmail("127.0.0.1", server.server_address[1], "PAHT <no-reply@paht.quangbinh.gov.vn>", tls="off", timeout_s=5)
        first = mail.send("thu@example.vn", "[PAHT] Phản ánh QB-7K3M-9XTP", "Kết quả trả lời: đã vá ổ gà.", purpose="notice", key="e1:email")
        again = mail.send("thu@example.vn", "[PAHT] Phản ánh QB-7K3M-9XTP", "Kết quả trả lời: đã vá ổ gà.", purpose="notice", key="e1:email")
    finally:
        server.shutdown()
        server.server_close()
    assert first == again and first.endswith("@paht.quangbinh.gov.vn>")  # the same notice, the same Message-ID
    assert any("thu@example.vn" in line for line in server.envelope)
    import email

    message = email.message_from_bytes(server.messages[0])
    assert message["Message-ID"] == first and message["Auto-Submitted"] == "auto-generated"
    assert "đã vá ổ gà" in message.get_payload(decode=True).decode()
    down = SmtpEmail("127.0.0.1", 9, "PAHT <no-reply@paht.quangbinh.gov.vn>", tls="off", timeout_s=1)  # nothing listens there
    with pytest.raises(EmailUnavailable):
        down.send("thu@example.vn", "s", "t", purpose="notice")


def test_e_mail_goes_to_the_dev_outbox_outside_production_and_is_refused_in_production_without_a_server(tmp_path):
    from tests.support.services import test_settings

    outbox = email_from(test_settings(tmp_path))
    assert isinstance(outbox, DevOutboxEmail)
    outbox.send("thu@example.vn", "[PAHT] s", "Nội dung", purpose="notice", key="k1")
    (sent,) = outbox.sent()
    assert (sent["to"], sent["text"], sent["key"]) == ("thu@example.vn", "Nội dung", "k1")
    assert (tmp_path / "dev-outbox" / "email.jsonl").exists()
    with pytest.raises(EmailUnavailable):
        UnconfiguredEmail().send("thu@example.vn", "s", "t", purpose="notice")
