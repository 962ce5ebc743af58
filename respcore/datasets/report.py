"""What a loader found while reading a dataset: fix-ups it applied and items it skipped, with reasons."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


class DatasetError(ValueError):
    """Bad input that cannot become a silent mislabel: names the file and the problem."""


@dataclass
class Report:
    """Fix-ups (applied, data kept) and skips (data dropped), each a (kind, detail) pair.

    ``strict=True`` turns every skip into a ``DatasetError`` at the moment it happens.
    """

    strict: bool = False
    fixups: list[tuple[str, str]] = field(default_factory=list)
    skips: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)

    def fix(self, kind: str, detail: str) -> None:
        """Record a fix-up: the data is kept, corrected as ``detail`` says."""
        self.fixups.append((kind, detail))

    def skip(self, kind: str, detail: str) -> None:
        """Record a dropped item or file; raise instead when strict."""
        if self.strict:
            raise DatasetError(f"{detail} ({kind}; strict=True turns skips into errors)")
        self.skips.append((kind, detail))

    def note(self, kind: str, detail: str) -> None:
        """Record a fact worth knowing that changes nothing (e.g. patients in both splits)."""
        self.notes.append((kind, detail))

    def counts(self) -> dict[str, dict[str, int]]:
        """{'fixups': {kind: n}, 'skips': {kind: n}, 'notes': {kind: n}}."""
        return {name: dict(Counter(k for k, _ in getattr(self, name))) for name in ("fixups", "skips", "notes")}

    def __str__(self) -> str:
        return self.summary()

    def summary(self, max_details: int = 5) -> str:
        """Readable multi-line summary: counts per kind and the first ``max_details`` details of each."""
        lines: list[str] = []
        for title, entries in (("fix-ups", self.fixups), ("skipped", self.skips), ("notes", self.notes)):
            if not entries:
                lines.append(f"{title}: none")
                continue
            lines.append(f"{title}: {len(entries)}")
            by_kind: dict[str, list[str]] = {}
            for kind, detail in entries:
                by_kind.setdefault(kind, []).append(detail)
            for kind, details in by_kind.items():
                lines.append(f"  {kind}: {len(details)}")
                lines.extend(f"    {d}" for d in details[:max_details])
                if len(details) > max_details:
                    lines.append(f"    ... and {len(details) - max_details} more")
        return "\n".join(lines)
