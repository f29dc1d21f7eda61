"""SMS encoding and segment counting per GSM 03.38, and French normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifier.channels.registry import plugin
from notifier.channels.segments import (
    GSM_BASIC,
    GSM_EXTENSION,
    Normalization,
    analyze,
    encoding_of,
    normalize,
)
from notifier.models import Channel, Need

EURO = "€"  # extension table: two septets


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        pytest.param("", "GSM-7", 0, 0, id="empty"),
        pytest.param("a", "GSM-7", 1, 1, id="one-letter"),
        pytest.param("a" * 160, "GSM-7", 160, 1, id="160-letters-one-segment"),
        pytest.param("a" * 161, "GSM-7", 161, 2, id="161-letters-two-segments"),
        pytest.param("a" * 306, "GSM-7", 306, 2, id="306-letters-two-segments"),
        pytest.param("a" * 307, "GSM-7", 307, 3, id="307-letters-three-segments"),
        pytest.param("a" * 459, "GSM-7", 459, 3, id="459-letters-three-segments"),
        pytest.param("a" * 460, "GSM-7", 460, 4, id="460-letters-four-segments"),
        pytest.param("é" * 160, "GSM-7", 160, 1, id="160-e-acute-still-gsm"),  # é è ù à are GSM-7
        pytest.param("àèéùìò" * 10, "GSM-7", 60, 1, id="french-accents-gsm"),
        pytest.param(EURO * 80, "GSM-7", 160, 1, id="80-euros-160-septets"),
        pytest.param(EURO * 80 + "a", "GSM-7", 161, 2, id="80-euros-and-a-letter"),
        pytest.param("a" * 159 + EURO, "GSM-7", 161, 2, id="euro-as-161st-septet"),
        pytest.param("a" * 158 + EURO, "GSM-7", 160, 1, id="euro-as-160th-septet"),
        # an escape pair is never split: 152 septets + € does not fit in 153
        pytest.param(
            "a" * 152 + EURO + "a" * 150, "GSM-7", 304, 2, id="escape-pair-not-split-two-segments"
        ),
        pytest.param(
            "a" * 152 + EURO + "a" * 152, "GSM-7", 306, 3, id="escape-pair-not-split-three-segments"
        ),
        pytest.param("[]{}|^~\\", "GSM-7", 16, 1, id="extension-table"),
        pytest.param("\f", "GSM-7", 2, 1, id="form-feed"),
        pytest.param(
            "Ça coûte 5 €", "UCS-2", 12, 1, id="u-circumflex-makes-ucs2"
        ),  # û is not GSM-7
        pytest.param(
            "ç", "UCS-2", 1, 1, id="small-c-cedilla-is-ucs2"
        ),  # only capital Ç is in the alphabet
        pytest.param("Ç", "GSM-7", 1, 1, id="capital-c-cedilla-is-gsm"),
        pytest.param("ê" * 70, "UCS-2", 70, 1, id="70-ucs2-one-segment"),
        pytest.param("ê" * 71, "UCS-2", 71, 2, id="71-ucs2-two-segments"),
        pytest.param("ê" * 134, "UCS-2", 134, 2, id="134-ucs2-two-segments"),
        pytest.param("ê" * 135, "UCS-2", 135, 3, id="135-ucs2-three-segments"),
        pytest.param(
            "a" * 159 + "ê", "UCS-2", 160, 3, id="one-ucs2-character-makes-all-ucs2"
        ),  # one UCS-2 character makes the whole text UCS-2
        pytest.param("« Bonjour »", "UCS-2", 11, 1, id="guillemets"),
        pytest.param("Rendez-vous…", "UCS-2", 12, 1, id="ellipsis"),
        pytest.param("l’accueil", "UCS-2", 9, 1, id="curly-apostrophe"),
        pytest.param("🚓", "UCS-2", 2, 1, id="emoji-two-units"),  # a surrogate pair: two code units
        pytest.param("🚓" * 35, "UCS-2", 70, 1, id="35-emoji-one-segment"),
        pytest.param(
            "a" * 66 + "🚓" + "a" * 66, "UCS-2", 134, 3, id="surrogate-pair-not-split"
        ),  # the pair is never split
        pytest.param("a" * 65 + "🚓" + "a" * 67, "UCS-2", 134, 2, id="surrogate-pair-fits"),
        pytest.param("ΔΦΓΛΩΠΨΣΘΞ", "GSM-7", 10, 1, id="greek-capitals-gsm"),
        pytest.param("line\nbreak\r", "GSM-7", 11, 1, id="line-breaks"),
    ],
)
def test_segments(text: str, encoding: str, units: int, segments: int) -> None:
    info = analyze(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("« Bonjour »", '"Bonjour"', id="guillemets"),
        pytest.param("«\u202fBonjour\u202f»", '"Bonjour"', id="guillemets-narrow-spaces"),
        pytest.param("l’accueil", "l'accueil", id="curly-apostrophe"),
        pytest.param("Attention\u202f!", "Attention !", id="narrow-space-before-bang"),
        pytest.param("10\u00a0h\u00a030", "10 h 30", id="no-break-spaces"),
        pytest.param("et puis…", "et puis...", id="ellipsis"),
        pytest.param("9 h – 12 h", "9 h - 12 h", id="en-dash"),
        pytest.param("un vœu", "un voeu", id="oe-ligature"),
        pytest.param("dossier n° 42", "dossier numéro 42", id="numero-sign"),
        pytest.param("dossier n°42", "dossier numéro 42", id="numero-sign-no-space"),
        pytest.param("reçu", "recu", id="small-c-cedilla"),
        pytest.param("fête à l’hôpital", "fete à l'hopital", id="circumflexes"),
        pytest.param("À bientôt", "A bientot", id="capital-a-grave"),
        pytest.param("Noël", "Noel", id="diaeresis"),
        pytest.param("déjà été", "déjà été", id="gsm-accents-kept"),
        pytest.param("5 €", "5 €", id="euro-kept"),
        pytest.param(
            "🚓 patrouille", "🚓 patrouille", id="emoji-kept"
        ),  # no GSM rendering: kept, never "?"
    ],
)
def test_gsm_normalisation(source: str, expected: str) -> None:
    assert normalize(source, "gsm") == expected


def test_keep_leaves_text_alone() -> None:
    assert normalize("« l’été »", "keep") == "« l’été »"


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_normalised_text_has_no_question_marks_it_did_not_have(text: str) -> None:
    assert normalize(text, "gsm").count("?") == text.count("?")


@given(st.text(alphabet="àâäçéèêëîïôöùûüÿœæÀÂÇÉÈÊËÎÏÔÖÙÛÜŒÆ«»’…–— abcXYZ\u00a0\u202f"))
def test_french_text_always_fits_gsm_after_normalisation(text: str) -> None:
    assert encoding_of(normalize(text, "gsm")) == "GSM-7"


@given(st.text(alphabet=sorted(GSM_BASIC | GSM_EXTENSION), max_size=500))
def test_segment_count_is_consistent_with_length(text: str) -> None:
    info = analyze(text)
    if info.units <= 160:
        assert info.segments == (1 if text else 0)
    else:
        assert -(-info.units // 153) <= info.segments <= -(-info.units // 152)


QUOTED = "« Votre rendez-vous »"


@pytest.mark.parametrize(
    ("text", "needs", "normalization", "sent", "sizes", "problem"),
    [
        pytest.param(QUOTED, [], "gsm", '"Votre rendez-vous"', "GSM-7, 1 segments", None, id="gsm"),
        pytest.param(QUOTED, [], "keep", QUOTED, "UCS-2, 1 segments", None, id="keep"),
        pytest.param(
            QUOTED,
            [Need.NO_SMARTPHONE],
            "keep",
            '"Votre rendez-vous"',
            "GSM-7, 1 segments",
            None,
            id="basic-phone-always-gsm",
        ),
        pytest.param(
            "a" * 307,
            [Need.NO_SMARTPHONE],
            "gsm",
            "a" * 307,
            "GSM-7, 3 segments",
            "too long for a basic phone: GSM-7, 3 segments (at most 2 in GSM-7)",
            id="basic-phone-too-long",
        ),
        pytest.param("a" * 307, [], "gsm", "a" * 307, "GSM-7, 3 segments", None, id="long-ok"),
    ],
)
def test_the_sms_plugin_prepares_the_text(
    text: str,
    needs: list[Need],
    normalization: Normalization,
    sent: str,
    sizes: str,
    problem: str | None,
) -> None:
    prepare = plugin(Channel.SMS).prepare
    assert prepare is not None
    prepared = prepare({"text": text}, needs, normalization)
    assert (prepared.parts, prepared.sizes, prepared.problem) == ({"text": sent}, sizes, problem)
    encoding, segments = sizes.split(" ")[0].rstrip(","), sizes.split(" ")[1]
    assert prepared.metadata == {"encoding": encoding, "segments": segments}
