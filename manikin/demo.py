"""Demo data of the manikin app (filled in with the stations and rooms)."""


def load(stdout=None) -> None:
    return None
