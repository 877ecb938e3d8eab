"""Which user turns are closing courtesies: a whole, short thanks or goodbye is; a turn that
also carries a request is not."""

from __future__ import annotations

import pytest

from rft_sanitizer.closing import is_closing_turn


@pytest.mark.parametrize(
    "text",
    [
        "thanks!",
        "Thank you so much for your help",
        "That's all, bye",
        "###STOP###",
        "Thanks, bye! ###STOP###",
        "I appreciate your help.",
        "Thank you very much for all of your help today!",
        "Great, thanks for checking. Have a nice day!",
    ],
)
def test_closing_turns(text):
    assert is_closing_turn(text)


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for checking, now please cancel my reservation ABC123",
        "Thanks for checking now please cancel my reservation ABC123",
        "I appreciate your help, could you cancel the booking",
        "I appreciate your help could you cancel the booking",
        "Thank you for your help yesterday, please book me a flight to Paris on May 3",
        "Thanks for that, can I also change my seat",
        "Thanks for the info?",
        "Thank you for looking into it but I still need the refund for my flight",
        "Thanks, and cancel the second one",
    ],
)
def test_turns_with_a_request_are_not_closing(text):
    assert not is_closing_turn(text)
