"""What the keys can reach and what the speech reads on each kiosk screen: pure functions of the `Kiosk`'s
presented state, so the Kivy widgets, the keys and the speech always agree."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from wins_kiosk.guidance import FocusItem, spoken_number
from wins_kiosk.model import PrintStatus, Screen

if TYPE_CHECKING:
    from wins_kiosk.state import Kiosk


def sentences(*parts: str) -> str:
    """Parts joined as sentences (espeak-ng pauses at a full stop)."""
    out = []
    for part in parts:
        part = part.strip()
        if part:
            out.append(part if part[-1] in ".!?…:" else part + ".")
    return " ".join(out)


def focus_items(kiosk: Kiosk) -> list[FocusItem]:
    """What the keys can reach on this screen, in order (the Kivy widgets carry the same keys)."""
    if kiosk.time_warning:
        return [FocusItem("more_time", kiosk.text("more_time"), kiosk.extend_time)]
    items: list[FocusItem] = []
    if kiosk.screen == Screen.START:
        for service in kiosk.services:
            label = kiosk.service_label(service)
            if kiosk.priority_choice is not None:
                label = f"{service.name} ({kiosk.priority_label(kiosk.priority_choice)})"
            items.append(FocusItem(f"service:{service.id}", label, partial(kiosk.tap_service, service.id)))
        if kiosk.priority_categories:
            if kiosk.priority_choice is None:
                items.append(FocusItem("priority", kiosk.text("priority_button"), kiosk.open_priority))
            else:
                items.append(FocusItem("priority", kiosk.text("priority_cancel"), kiosk.cancel_priority))
        items.append(FocusItem("help", kiosk.text("help_button"), kiosk.request_help))
        for code, name in kiosk.language_choices():
            items.append(FocusItem(f"lang:{code}", name, partial(kiosk.set_language, code)))
        big = kiosk.text("normal_text") if kiosk.big_font else kiosk.text("big_text")
        items.append(FocusItem("big_text", big, kiosk.toggle_big_font))
    elif kiosk.screen == Screen.PRIORITY:
        for category in kiosk.priority_categories:
            label = kiosk.text("priority_choice", label=kiosk.priority_label(category))
            key = str(category["key"])
            items.append(FocusItem(f"priority:{key}", label, partial(kiosk.choose_priority, key)))
        items.append(FocusItem("back", kiosk.text("back"), kiosk.cancel_priority))
    elif kiosk.screen == Screen.RESULT:
        items.append(FocusItem("finish", kiosk.text("touch_to_finish"), kiosk.tap_result))
    return items


def screen_speech(kiosk: Kiosk) -> str:
    """What the speech reads for the screen as it is now (in the kiosk's language)."""
    t = kiosk.text
    if kiosk.time_warning:
        return sentences(t("time_warning_title"), t("time_warning_body", seconds=kiosk.seconds_left()))
    parts: list[str] = []
    if kiosk.help_status is not None:
        parts.append(t(f"help_{kiosk.help_status.value}"))
    if kiosk.screen == Screen.START:
        parts.append(kiosk.branch_name or t("welcome"))
        if kiosk.notice:
            parts.append(t(kiosk.notice))
        if kiosk.priority_choice is not None:
            parts.append(t("priority_chosen", label=kiosk.priority_label(kiosk.priority_choice)))
        else:
            parts.append(t("choose_service"))
        if kiosk.services:
            names = ", ".join(s.name for s in kiosk.services)
            parts.append(t("speech_services", count=len(kiosk.services), names=names))
        else:
            parts.append(t("no_services"))
        parts.append(t("speech_keys"))
    elif kiosk.screen == Screen.PRIORITY:
        parts.append(t("priority_title"))
        parts.append(", ".join(kiosk.priority_label(c) for c in kiosk.priority_categories))
        parts.append(t("speech_keys"))
    elif kiosk.screen == Screen.ISSUING:
        parts.append(t("issuing"))
    elif kiosk.screen == Screen.RESULT and kiosk.ticket is not None:
        ticket = kiosk.ticket
        parts.append(t("speech_your_number", number=spoken_number(ticket.number)))
        parts += [ticket.service_name, kiosk.people_ahead_text(ticket), kiosk.wait_text(ticket)]
        if kiosk.print_status == PrintStatus.FAILED:
            parts += [t("printer_fault_title"), t("printer_fault_note", number=spoken_number(ticket.number))]
        elif kiosk.print_status == PrintStatus.PRINTED:
            parts.append(t("take_ticket"))
        elif kiosk.print_status == PrintStatus.PRINTING:
            parts.append(t("issuing"))
    elif kiosk.screen == Screen.UNAVAILABLE:
        parts += [t("unavailable_title"), t("unavailable_body")]
    else:
        parts.append(t("operator_title"))
    return sentences(*parts)
