"""Printer URLs and the links other than TCP: USB (the device is the only fake), serial (a real pty), file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from escpos.printer import Dummy, File, Network, Serial, Usb

from tests.support.printer_emulator import EscposDevice, open_pty_printer
from wins.printing import Slip, open_printer, parse_printer_url, print_slip, slip_bytes
from wins.printing.printers import PrinterUrlError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("tcp://192.168.1.50:9100", {"scheme": "tcp", "host": "192.168.1.50", "port": 9100}),
        ("tcp://printer.lan", {"scheme": "tcp", "host": "printer.lan", "port": 9100}),
        ("tcp://10.0.0.9:4242?profile=TM-T88V", {"port": 4242, "options": {"profile": "TM-T88V"}}),
        ("usb://04b8:0202", {"scheme": "usb", "vendor_id": 0x04B8, "product_id": 0x0202}),
        ("serial:///dev/ttyUSB0?baudrate=19200", {"path": "/dev/ttyUSB0", "options": {"baudrate": "19200"}}),
        ("file:///dev/usb/lp0", {"scheme": "file", "path": "/dev/usb/lp0"}),
        ("dummy://", {"scheme": "dummy"}),
    ],
)
def test_parse_good_urls(url: str, expected: dict[str, Any]) -> None:
    target = parse_printer_url(url)
    for key, value in expected.items():
        assert getattr(target, key) == value


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "not a URL"),
        ("192.168.1.50", "not a URL"),
        ("http://printer", "unknown kind 'http'"),
        ("tcp://", "no host"),
        ("tcp://printer:port", "port must be a number"),
        ("usb://04b8", "usb://VID:PID"),
        ("usb://zz:0202", "must be a number"),
        ("serial://", "no device path"),
        ("serial:///dev/ttyS0?baudrate=fast", "baudrate must be a number"),
    ],
)
def test_bad_urls_raise_a_clear_wins_error(url: str, words: str) -> None:
    check = open_printer if "baudrate" in url else parse_printer_url
    with pytest.raises(PrinterUrlError, match=words) as caught:
        check(url)
    assert caught.value.status_code == 422


def test_open_printer_builds_python_escpos_printers_with_short_timeouts() -> None:
    network = open_printer("tcp://127.0.0.1:9100", timeout=2.5)
    assert isinstance(network, Network) and network.timeout == 2.5  # python-escpos' default is 60 s
    assert isinstance(open_printer("tcp://127.0.0.1:9100"), Network)
    assert open_printer("tcp://127.0.0.1:9100").timeout == 3.0
    usb = open_printer("usb://04b8:0202?out_ep=0x03", timeout=2)
    assert isinstance(usb, Usb) and usb.timeout == 2000 and usb.out_ep == 3
    serial = open_printer("serial:///dev/ttyS9?baudrate=19200&dsrdtr=0")
    assert isinstance(serial, Serial) and serial.baudrate == 19200 and serial.dsrdtr is False
    assert isinstance(open_printer("file:///dev/usb/lp0"), File)
    assert isinstance(open_printer("dummy://"), Dummy)


def test_print_slip_reports_a_bad_url_instead_of_raising(slip: Slip) -> None:
    result = print_slip("lpt1", slip)
    assert not result.ok and result.printer_state == "error" and "not a URL" in result.message


def test_dummy_printer(slip: Slip) -> None:
    result = print_slip("dummy://", slip)
    assert result.ok and result.printer_state == "online" and result.attempts == 1


def test_file_printer_gets_the_whole_job(tmp_path: Path, slip: Slip) -> None:
    device = tmp_path / "lp0"
    result = print_slip(f"file://{device}", slip)
    assert result.ok and result.printer_state == "unknown"  # a device file cannot be asked for status
    assert device.read_bytes() == slip_bytes(slip)


def test_file_printer_missing_device(tmp_path: Path, slip: Slip) -> None:
    result = print_slip(f"file://{tmp_path}/missing/lp0", slip, retry_delay=0.01)
    assert not result.ok and result.printer_state == "offline" and result.attempts == 3
    assert "no such file" in result.message.lower()


def test_serial_printer_on_a_pty(slip: Slip) -> None:
    device = EscposDevice()
    path, stop, received = open_pty_printer(device)
    try:
        result = print_slip(f"serial://{path}?baudrate=115200&dsrdtr=0", slip, timeout=2)
        assert result.ok and result.printer_state == "online", result
        assert received == slip_bytes(slip)
        assert device.queries.count(b"\x10\x04\x01") == 2  # status read before and after the job

        device.paper = "out"
        result = print_slip(f"serial://{path}?baudrate=115200&dsrdtr=0", slip, timeout=2)
        assert not result.ok and result.printer_state == "paper_out"
    finally:
        stop.set()


class FakeUsbDevice:
    """Stands in for pyusb's device (the one thing we cannot have in CI); the printer logic behind it is
    the same emulated ESC/POS device as the network tests use."""

    class Backend:  # python-escpos looks at the backend's module name
        pass

    class Context:
        def dispose(self, device: object) -> None:
            device.disposed = True  # type: ignore[attr-defined]

    def __init__(self, printer: EscposDevice) -> None:
        self.printer = printer
        self.backend = self.Backend()
        self._ctx = self.Context()
        self.disposed = False
        self.job = bytearray()
        self.pending = bytearray()
        self.answers = bytearray()

    def set_configuration(self) -> None:
        pass

    def reset(self) -> None:
        pass

    def write(self, endpoint: int, data: bytes, timeout: int) -> int:
        assert endpoint == 0x01 and timeout == 2000
        self.pending += data
        self.answers += self.printer.feed(self.pending, self.job)
        return len(data)

    def read(self, endpoint: int, size: int) -> bytes:
        assert endpoint == 0x82
        if not self.answers:
            import usb.core

            raise usb.core.USBTimeoutError("timeout", 110, 110)
        out, self.answers = bytes(self.answers[:size]), self.answers[size:]
        return out


def test_usb_printer(monkeypatch: pytest.MonkeyPatch, slip: Slip) -> None:
    import usb.core

    printer = EscposDevice()
    devices: list[FakeUsbDevice] = []

    def find(**match: int) -> FakeUsbDevice:
        assert match == {"idVendor": 0x04B8, "idProduct": 0x0202}
        devices.append(FakeUsbDevice(printer))
        return devices[-1]

    monkeypatch.setattr(usb.core, "find", find)
    result = print_slip("usb://04b8:0202", slip, timeout=2)
    assert result.ok and result.printer_state == "online", result
    assert devices[0].job == slip_bytes(slip) and devices[0].disposed

    printer.cover_open = True
    result = print_slip("usb://04b8:0202", slip, timeout=2)
    assert not result.ok and result.printer_state == "cover_open"

    printer.cover_open = False
    printer.answer_status = False  # many USB printers have no status channel
    result = print_slip("usb://04b8:0202", slip, timeout=2)
    assert result.ok and result.printer_state == "unknown" and devices[-1].job == slip_bytes(slip)


def test_usb_printer_unplugged(monkeypatch: pytest.MonkeyPatch, slip: Slip) -> None:
    import usb.core

    monkeypatch.setattr(usb.core, "find", lambda **_: None)
    result = print_slip("usb://04b8:0202", slip, retry_delay=0.01)
    assert not result.ok and result.printer_state == "offline" and result.attempts == 3
    assert "not found" in result.message
