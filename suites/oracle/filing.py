"""The filing (备案) a stay is settled under, from the world file: what the temporary-care reduction of a
policy depends on (R-BEN-04)."""

from __future__ import annotations

from datetime import date

from ...world.topology import Person

EMERGENCY = ("13", "24")  # 急诊, 急诊转住院: deemed filed (视同已备案, fil_type 6)


def filing_type(person: Person, area: str, day: date, med_type: str) -> str | None:
    """The fil_type of the person's live filing covering ``area`` (the city, or its whole province) on
    ``day``; none for care in the person's own province; 6 for an emergency without one."""
    if area[:2] == person.province[:2]:
        return None
    for f in person.filings:
        here = f.mdtrtarea == area or (f.mdtrtarea.endswith("0000") and f.mdtrtarea[:2] == area[:2])
        if here and f.status == "1" and f.begndate <= day and (f.enddate is None or day <= f.enddate):
            return f.fil_type
    return "6" if med_type in EMERGENCY else None


def setting_of(med_type: str) -> str:
    """The care setting of a 医疗类别: 门诊慢特病 (14), another outpatient type (1x), or inpatient."""
    return "chronic" if med_type == "14" else "outpatient" if med_type.startswith("1") else "inpatient"
