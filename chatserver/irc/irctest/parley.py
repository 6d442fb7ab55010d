"""irctest controller for Parley's chat server, speaking IRC.

irctest (../shared/irctest, MIT) starts one server per test through this
controller. It runs the chatserver binary named by $PARLEY_CHATSERVER (or
`chatserver` on $PATH) with the IRC door on the port irctest chose, an
in-memory store, and the limits of a test: no login throttle, a high rate
limit, cheap password hashing.

Parley needs an account and a password for every login, and irctest's
tests mostly register with NICK and USER only, so the server runs with
-irc-guests: a connection without PASS or SASL registers its nick. When
irctest gives the server a password, it becomes -irc-guest-password, which
guests must send with PASS, as with any IRC server password. Accounts for
the SASL tests are registered the Parley way: the first login of a name
(here with SASL PLAIN) registers it. The tests' server operator,
operuser with operpassword (what irctest's controllers for other
servers configure), is in an -opers file, its password hashed by
`chatserver hash-password`.

Run it from ../shared/irctest with this directory on PYTHONPATH:

    PYTHONPATH=<this dir> /usr/bin/python3 -m pytest -p no:cacheprovider \
        --controller parley -m '...' irctest/server_tests/join.py
"""

import base64
import os
import shutil
import subprocess
from typing import Optional, Set, Type

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.runner import NotImplementedByController


class ParleyController(BaseServerController, DirectoryBasedController):
    software_name = "Parley"
    supported_sasl_mechanisms: Set[str] = {"PLAIN"}
    supports_sts = False
    # The ISUPPORT tokens the server must send, with their values: what
    # chatserver/irc/register.go's isupport promises (None: no value).
    isupport = {
        "CASEMAPPING": "rfc8265",
        "CHANTYPES": "#",
        "PREFIX": "(ov)@+",
        "UTF8ONLY": None,
        "WHOX": None,
        "NICKLEN": "128",
        "CHANNELLEN": "129",
        "TOPICLEN": "390",
        "TARGMAX": "JOIN:,KICK:4,NAMES:4,NOTICE:4,PART:,PRIVMSG:4,WHOIS:1",
    }

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: Optional[str],
        ssl: bool,
        run_services: bool,
        faketime: Optional[str],
        websocket_hostname: Optional[str],
        websocket_port: Optional[int],
    ) -> None:
        if websocket_hostname is not None or websocket_port is not None:
            raise NotImplementedByController("Websocket")
        assert self.proc is None
        self.port = port
        self.hostname = hostname
        self.create_config()
        assert self.directory
        binary = os.environ.get("PARLEY_CHATSERVER") or shutil.which("chatserver")
        if not binary:
            raise RuntimeError("set PARLEY_CHATSERVER to the chatserver binary")
        # The server operator irctest's OPER tests use.
        hashed = subprocess.run(
            [binary, "hash-password", "-hash-memory", "64"],
            input="operpassword\n", capture_output=True, text=True, check=True,
        ).stdout.strip()
        opers = self.directory / "opers"
        opers.write_text("operuser {}\n".format(hashed))
        args = [
            binary,
            "-opers", str(opers),
            "-addr", "127.0.0.1:0",
            "-http", "",
            "-data", "",
            "-secret-file", str(self.directory / "secret"),
            "-irc-server-name", "My.Little.Server",
            "-irc-guests",
            "-rate", "100000",
            "-burst", "100000",
            "-read-rate", "100000",
            "-login-rate", "0",
            "-register-rate", "0",
            "-hash-memory", "64",
            "-log-level", "warn",
        ]
        if password:
            args += ["-irc-guest-password", password]
        addr = "{}:{}".format(hostname, port)
        if ssl:
            self.gen_ssl()
            args += ["-tls-cert", str(self.pem_path), "-tls-key", str(self.key_path),
                     "-irc", "", "-irc-tls", addr]
        else:
            args += ["-irc", addr]
        self.proc = self.execute(args)

    def wait_for_services(self) -> None:
        """Accounts are the chat server's own: there are no services to wait for."""

    def registerUser(self, case, username: str, password: Optional[str] = None) -> None:
        """Registers an account: its first login does, here with SASL PLAIN."""
        assert password
        client = case.addClient(show_io=False)
        case.sendLine(client, "CAP LS 302")
        case.sendLine(client, "NICK " + username)
        case.sendLine(client, "USER r e g :user")
        case.sendLine(client, "CAP REQ :sasl")
        case.sendLine(client, "AUTHENTICATE PLAIN")
        plain = base64.b64encode("\0{}\0{}".format(username, password).encode()).decode()
        chunks = [plain[i:i + 400] for i in range(0, len(plain), 400)]
        if len(chunks[-1]) == 400:
            chunks.append("+")
        for chunk in chunks:
            case.sendLine(client, "AUTHENTICATE " + chunk)
        case.sendLine(client, "CAP END")
        while case.getRegistrationMessage(client).command != "001":
            pass
        case.getMessages(client)
        case.sendLine(client, "QUIT")
        case.assertDisconnected(client)


def get_irctest_controller_class() -> Type[ParleyController]:
    return ParleyController
