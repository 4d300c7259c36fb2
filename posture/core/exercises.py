"""A small library of desk exercises for upper-back and neck pain, and a deterministic rotation.

The dosages follow common physiotherapy advice for upper-back and neck pain (chin tucks 10 reps
held 3-5 s, doorway pec stretch 30 s x 3, prone scaption 3 x 10, ...). Where that advice gives no
count (arm circles, the seated chest opener) the dose here is a modest one of ours. Full neck
circles are left out on purpose: rolling the head back loads the neck joints that hurt in neck
pain, so a held side bend (the usual advice for a stiff neck or a tilted head) takes their place.

Each fault lists the exercises that address it, most relevant first: chin tucks for a forward head,
the pec stretch and scaption for rounded shoulders, the half-kneeling hold for leaning in (a tight
hip front pulls the pelvis and the trunk forward). Alerts walk that list with a rotation index the
caller keeps, so the same exercise never comes twice in a row and nothing here is random.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Exercise:
    """One exercise: a stable key, a display name, the dose, and a one-sentence how-to."""

    key: str
    name: str
    dose: str
    how: str

    def line(self) -> str:
        """`Chin tuck (10 reps, hold 3-5 s each)`: the short form used in break routines."""
        return f"{self.name} ({self.dose})"


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        "chin_tuck",
        "Chin tuck",
        "10 reps, hold 3-5 s each",
        "Glide your chin straight back as if making a double chin, eyes level.",
    ),
    Exercise(
        "doorway_pec_stretch",
        "Doorway pec stretch",
        "30 s, 3 times",
        "Forearms on the door frame at shoulder height, step through until the chest stretches.",
    ),
    Exercise(
        "prone_scaption",
        "Prone scaption",
        "3 × 10",
        "Lying face down, lift straight arms in a Y, thumbs up, shoulder blades down and back.",
    ),
    Exercise(
        "half_kneeling_hold",
        "Half-kneeling hold",
        "30 s, 3 times each leg",
        "Kneel on one knee, tuck the pelvis under and squeeze that glute until the hip front "
        "stretches.",
    ),
    Exercise(
        "shrugs_rolls",
        "Shoulder shrugs and rolls",
        "3 × 10",
        "Lift the shoulders towards the ears, then roll them back and down.",
    ),
    Exercise(
        "arm_circles",
        "Arm circles",
        "10 forward, then 10 back",
        "Arms out to the sides, slow circles that start small and grow.",
    ),
    Exercise(
        "neck_side_bend",
        "Neck side bend",
        "20 s each side",
        "Sit tall and tip one ear towards its shoulder without lifting the shoulder; then the "
        "other side.",
    ),
    Exercise(
        "door_frame_rotation",
        "Door-frame back rotation",
        "hold 10 s each side",
        "Stand side-on to a door frame, hold it with both hands and turn your upper back "
        "towards it.",
    ),
    Exercise(
        "cross_body_stretch",
        "Cross-body shoulder stretch",
        "30 s each arm",
        "Bring one arm across the chest and hold it above the elbow with the other hand.",
    ),
    Exercise(
        "seated_chest_opener",
        "Seated chest opener",
        "hold 5 s, 5 times",
        "Hands behind the head, elbows back, squeeze the shoulder blades together.",
    ),
)
"""The whole library, in the order break routines walk it."""

BY_KEY: dict[str, Exercise] = {e.key: e for e in EXERCISES}

FOR_FAULT: dict[str, tuple[str, ...]] = {
    "forward_head": ("chin_tuck", "seated_chest_opener", "prone_scaption", "neck_side_bend"),
    "head_drop": ("chin_tuck", "seated_chest_opener", "shrugs_rolls", "neck_side_bend"),
    "rounded_shoulders": (
        "doorway_pec_stretch",
        "prone_scaption",
        "seated_chest_opener",
        "shrugs_rolls",
    ),
    "leaning_in": (
        "half_kneeling_hold",
        "door_frame_rotation",
        "doorway_pec_stretch",
        "chin_tuck",
    ),
    "head_tilt": ("neck_side_bend", "shrugs_rolls", "cross_body_stretch", "chin_tuck"),
}
"""Exercises per fault, most relevant first. A fault not listed gets the whole library."""


def exercises_for(fault: str | None) -> tuple[Exercise, ...]:
    """List the exercises for `fault`, most relevant first; all of them for None or unknown."""
    keys = FOR_FAULT.get(fault or "")
    if keys is None:
        return EXERCISES
    return tuple(BY_KEY[k] for k in keys)


def choose_exercise(fault: str | None, rotation: int, *, avoid: str = "") -> Exercise:
    """Pick the exercise for the `rotation`-th alert about `fault`.

    Rotation 0 gives the most relevant exercise; each later index the next one, wrapping round.
    If that would repeat `avoid` (the key of the previous suggestion, whatever its fault), the next
    one is taken instead, so the same exercise never comes twice in a row.
    """
    if rotation < 0:
        raise ValueError(f"rotation must be >= 0, got {rotation}")
    options = exercises_for(fault)
    pick = options[rotation % len(options)]
    if pick.key == avoid and len(options) > 1:
        pick = options[(rotation + 1) % len(options)]
    return pick


def break_routine(rotation: int, *, count: int = 3, avoid: str = "") -> tuple[Exercise, ...]:
    """Pick a break routine: `count` (2 or 3) different exercises, the `rotation`-th in turn.

    Consecutive rotations walk the whole library in order, so every exercise comes up in turn.
    `avoid` (the previous suggestion's key) is swapped for the following exercise.
    """
    if rotation < 0:
        raise ValueError(f"rotation must be >= 0, got {rotation}")
    if count not in (2, 3):
        raise ValueError(f"a break routine has 2 or 3 exercises, got count={count}")
    n = len(EXERCISES)
    start = rotation * count
    picks = [EXERCISES[(start + i) % n] for i in range(count)]
    if picks[0].key == avoid:
        picks = [EXERCISES[(start + i) % n] for i in range(1, count + 1)]
    return tuple(picks)
