"""The layout of a synthetic corpus before any audio: class counts per split, patients, recordings,
breaths and which class sounds go where. Calibrated to the real datasets (``calibration``)."""
from __future__ import annotations

import heapq

import numpy as np

from ..icbhi_files import LOCATIONS
from ..stats import QUANTILE_LEVELS
from . import calibration as cal
from .design import LABEL_COMPONENTS, RecordingPlan

ICBHI_SAMPLE_RATES = {"AKGC417L": 16000, "Meditron": 16000, "LittC2SE": 16000, "Litt3200": 4000}
SPRSOUND_CAS = ("Rhonchi", "Wheeze", "Stridor")
SPRSOUND_DAS = ("Coarse Crackle", "Fine Crackle")


def apportion(total: int, weights: dict[str, float], minimum: dict[str, int]) -> dict[str, int]:
    """Split ``total`` over the keys in proportion to ``weights`` (largest remainder), then lift every key
    to its ``minimum`` by taking from the largest counts. Exact for the real totals (minimums already met)."""
    keys = list(weights)
    w = np.array([weights[k] for k in keys], dtype=float)
    raw = total * w / w.sum()
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    for i, k in enumerate(keys):
        while counts[i] < minimum.get(k, 0):
            j = int(np.argmax(counts))
            if counts[j] <= minimum.get(keys[j], 0) + 1:
                raise ValueError(f"size {total} is too small to give every class its minimum count")
            counts[j] -= 1
            counts[i] += 1
    return {k: int(c) for k, c in zip(keys, counts)}


def sample_quantiles(rng: np.random.Generator, q: list[float], size: int) -> np.ndarray:
    """(size,) draws from the piecewise-linear distribution with quantiles ``q`` at ``QUANTILE_LEVELS``
    (or, for a list of another length, at evenly spaced levels)."""
    levels = QUANTILE_LEVELS if len(q) == len(QUANTILE_LEVELS) else np.linspace(0, 1, len(q))
    return np.interp(rng.uniform(0, 1, size), levels, q)


def _slots_to_components(rng: np.random.Generator, flavor: str, label: str, s: float, e: float) -> list:
    out = []
    d = e - s
    for slot in LABEL_COMPONENTS[flavor][label]:
        names, probs = list(slot), np.array(list(slot.values()))
        name = names[rng.choice(len(names), p=probs / probs.sum())]
        if name.endswith("crackle"):
            t0, t1 = s + rng.uniform(0, 0.15) * d, e - rng.uniform(0, 0.15) * d
        elif name == "stridor":  # inspiratory
            t0, t1 = s + rng.uniform(0, 0.05) * d, s + rng.uniform(0.35, 0.5) * d
        else:
            t0 = s + rng.uniform(0, 0.3) * d
            t1 = t0 + rng.uniform(0.5, 0.95) * (e - t0)
        out.append((name, float(t0), float(t1)))
    return out


def _group_patients(rng: np.random.Generator, n: int, mean_per_patient: float) -> np.ndarray:
    """(n,) patient index of each of n recordings, grouped consecutively, ~mean_per_patient each."""
    sizes = []
    while sum(sizes) < n:
        sizes.append(1 + rng.poisson(max(0.0, mean_per_patient - 1)))
    return np.repeat(np.arange(len(sizes)), sizes)[:n]


def plan_icbhi(rng: np.random.Generator, counts: dict[str, dict[str, int]], smoke: bool) -> tuple[list, dict]:
    """Recordings of an ICBHI-like corpus with exactly ``counts[split][label]`` cycles.

    Returns: (list of RecordingPlan, {patient: {"age", "sex"}}).
    """
    p_ped_cycles = cal.ICBHI_CYCLES_BY_AGE_GROUP["pediatric"] / sum(cal.ICBHI_CYCLES_BY_AGE_GROUP.values())
    cycles_per_recording = sum(cal.ICBHI_CYCLES_BY_AGE_GROUP.values()) / sum(cal.ICBHI_RECORDINGS_BY_AGE_GROUP.values())
    per_patient = {g: cal.ICBHI_CYCLES_BY_AGE_GROUP[g] / cal.ICBHI_PATIENTS_BY_AGE_GROUP[g] / cycles_per_recording
                   for g in ("pediatric", "adult")}  # recordings per patient that give the real cycles per patient
    devices, dev_w = list(cal.ICBHI_DEVICES), np.array(list(cal.ICBHI_DEVICES.values()), float)
    patients: dict[str, dict] = {}
    plans: list[RecordingPlan] = []
    next_id = 101
    for split, by_class in counts.items():
        labels = np.array([c for c, k in by_class.items() for _ in range(k)], dtype=object)
        rng.shuffle(labels)
        sizes = []
        while sum(sizes) < len(labels):
            q = cal.ICBHI_CYCLES_PER_RECORDING if not smoke else [2, 3, 4, 4, 5]  # smoke: short recordings
            sizes.append(int(round(sample_quantiles(rng, q, 1)[0])))
        sizes[-1] -= sum(sizes) - len(labels)
        sizes = [s for s in sizes if s > 0]
        # children get the real share of CYCLES (their recordings hold more, shorter cycles), and at least
        # 2 recordings per split so that small corpora have children too
        order = rng.permutation(len(sizes))
        k = int(np.searchsorted(np.cumsum(np.asarray(sizes)[order]), p_ped_cycles * len(labels))) + 1
        child = np.zeros(len(sizes), dtype=bool)
        child[order[: min(len(sizes) // 3, max(2, k))]] = True
        done = 0
        for group, mask in (("pediatric", child), ("adult", ~child)):
            idx = np.flatnonzero(mask)
            # small corpora keep >= ~8 patients per group and split, so patient-wise folds stay possible
            owner = _group_patients(rng, len(idx), min(per_patient[group], max(1.0, len(idx) / 8)))
            for p in np.unique(owner):
                pid, next_id = str(next_id), next_id + 1
                age = float(sample_quantiles(rng, cal.ICBHI_AGE_QUANTILES[group], 1)[0])
                patients[pid] = {"age": round(age, 2) if age < 3 else float(round(age)), "sex": str(rng.choice(["M", "F"]))}
                device = devices[rng.choice(len(devices), p=dev_w / dev_w.sum())]
                for j, r in enumerate(idx[owner == p]):
                    n_cyc = sizes[r]
                    q = cal.ICBHI_CYCLE_SECONDS[group]
                    lengths = np.clip(sample_quantiles(rng, q, n_cyc), 0.2, 3.0 if smoke else None)
                    lead = rng.uniform(0.05, 0.6)
                    starts = lead + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
                    breaths = np.round(np.stack([starts, starts + lengths], 1), 3)
                    labs = list(labels[done:done + n_cyc])
                    done += n_cyc
                    comps = [c for (s, e), lab in zip(breaths, labs) for c in _slots_to_components(rng, "icbhi", lab, s, e)]
                    mode = "mc" if device == "AKGC417L" or (device == "LittC2SE" and rng.random() < 0.99) else "sc"
                    loc = LOCATIONS[(j + int(pid)) % len(LOCATIONS)]
                    stem = f"{pid}_{j // 7 + 1}b{j % 7 + 1}_{loc}_{mode}_{device}"
                    plans.append(RecordingPlan(stem, split, pid, patients[pid]["age"], patients[pid]["sex"], device,
                                               ICBHI_SAMPLE_RATES[device], float(breaths[-1, 1] + rng.uniform(0.05, 0.6)),
                                               breaths, labs, comps))
    _share_patients(rng, plans, patients)
    return plans, patients


def _share_patients(rng: np.random.Generator, plans: list, patients: dict) -> None:
    """Re-assign a few test patients to train patients of the same age group, as ICBHI has two patients in
    both official splits (their recordings are renamed; their ages follow the train patient)."""
    n_share = int(round(len(patients) * cal.ICBHI_SHARED_PATIENTS / sum(cal.ICBHI_PATIENTS_BY_AGE_GROUP.values())))
    train = sorted({p.patient for p in plans if p.split == "train" and p.age >= 18})
    test = sorted({p.patient for p in plans if p.split == "test" and p.age >= 18})
    for src, dst in zip(test[:n_share], rng.permutation(train)[:n_share]):
        taken = {p.stem.split("_")[1] for p in plans if p.patient == dst}
        j = 7 * 20  # recording indices past any the train patient uses
        for p in [p for p in plans if p.patient == src]:
            while f"{j // 7 + 1}b{j % 7 + 1}" in taken:
                j += 1
            parts = p.stem.split("_")
            p.stem = "_".join([dst, f"{j // 7 + 1}b{j % 7 + 1}", *parts[2:]])
            p.patient, p.age, p.sex = dst, patients[dst]["age"], patients[dst]["sex"]
            j += 1
        del patients[src]


def plan_sprsound(rng: np.random.Generator, counts: dict[str, dict[str, int]], smoke: bool) -> list:
    """Records of an SPRSound-like corpus with exactly ``counts[split][type]`` events; record labels follow
    from the events (CAS, DAS, CAS & DAS), Poor Quality records (no events) in the real proportion."""
    plans: list[RecordingPlan] = []
    train_patients: list[tuple[str, float, str]] = []
    index = 100
    for split, by_type in counts.items():
        n_events = sum(by_type.values())
        real_rec = cal.SPRSOUND_RECORDS[split]
        n_pq = int(round(n_events * real_rec["Poor Quality"] / sum(cal.SPRSOUND_EVENTS[split].values())))
        n_rec = max(1, int(round(n_events / cal.SPRSOUND_EVENTS_PER_RECORD)))
        want = apportion(n_rec, {k: v for k, v in real_rec.items() if k != "Poor Quality"}, {})
        pool = {t: [t] * by_type[t] for t in by_type}
        cas = [e for t in SPRSOUND_CAS for e in pool[t]]
        das = [e for t in SPRSOUND_DAS for e in pool[t]]
        wc = pool["Wheeze+Crackle"]
        n_both = min(want["CAS & DAS"], len(wc) + min(len(cas), len(das)))
        n_cas = min(want["CAS"], len(cas) - max(0, n_both - len(wc)))
        n_das = min(want["DAS"], len(das) - max(0, n_both - len(wc)))
        kinds = ["CAS & DAS"] * n_both + ["CAS"] * n_cas + ["DAS"] * n_das
        kinds += ["Normal"] * max(n_rec - len(kinds), 1 if pool["Normal"] else 0)
        events: list[list[str]] = [[] for _ in kinds]
        rng.shuffle(cas), rng.shuffle(das)
        for i in range(n_both):  # a Wheeze+Crackle event, else one CAS and one DAS event
            events[i] += [wc.pop()] if wc else [cas.pop(), das.pop()]
        for i in range(n_both, n_both + n_cas):
            events[i].append(cas.pop())
        for i in range(n_both + n_cas, n_both + n_cas + n_das):
            events[i].append(das.pop())
        for e, allowed in ((cas, ("CAS", "CAS & DAS")), (das, ("DAS", "CAS & DAS")), (wc, ("CAS & DAS",))):
            ok = [i for i, k in enumerate(kinds) if k in allowed]
            if e and not ok:  # too few records of that kind at this size: add one
                kinds.append(allowed[0])
                events.append([])
                ok = [len(kinds) - 1]
            for ev in e:
                events[int(rng.choice(ok))].append(ev)
        heap = [(len(x), float(t), i) for i, (x, t) in enumerate(zip(events, rng.random(len(events))))]
        heapq.heapify(heap)
        for ev in pool["Normal"]:  # fill the emptiest records first (random among equals)
            size, tie, i = heapq.heappop(heap)
            events[i].append(ev)
            heapq.heappush(heap, (size + 1, tie, i))
        kinds += ["Poor Quality"] * n_pq
        events += [[] for _ in range(n_pq)]
        order = rng.permutation(len(kinds))
        per_patient = min(sum(real_rec.values()) / cal.SPRSOUND_PATIENTS[split], max(1.0, len(kinds) / 8))
        owner = _group_patients(rng, len(kinds), per_patient)
        people = {}
        for k, o in zip(order, owner):
            if o not in people:
                if split == "intra" and train_patients:
                    people[o] = train_patients[int(rng.integers(len(train_patients)))]
                else:
                    age = float(sample_quantiles(rng, cal.SPRSOUND_AGE_QUANTILES, 1)[0])
                    people[o] = (str(int(rng.integers(40000000, 66000000))), round(age, 1), str(rng.integers(0, 2)))
                    if split == "train":
                        train_patients.append(people[o])
            pid, age, sex = people[o]
            index += 1
            loc = f"p{1 + index % 4}"
            plans.append(_sprsound_record(rng, f"{pid}_{age}_{sex}_{loc}_{index}", split, pid, age, sex,
                                          kinds[k], list(rng.permutation(events[k])), smoke))
    return plans


def _sprsound_record(rng: np.random.Generator, stem: str, split: str, pid: str, age: float, sex: str,
                     kind: str, events: list, smoke: bool) -> RecordingPlan:
    if kind == "Poor Quality":
        duration = float(rng.choice(cal.SPRSOUND_RECORD_SECONDS)) if rng.random() < 0.6 else rng.uniform(0.3, 5.0)
    else:
        duration = float(rng.choice(cal.SPRSOUND_RECORD_SECONDS, p=[0.35, 0.65]))
    lengths = np.clip(sample_quantiles(rng, cal.SPRSOUND_EVENT_SECONDS, 40), 0.3, 2.5 if smoke else 4.0)
    starts = rng.uniform(0.05, 0.5) + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    fits = starts + lengths < duration - 0.05
    if fits.sum() < len(events):  # too many events for this record: make it long and its breaths shorter
        duration = max(cal.SPRSOUND_RECORD_SECONDS)
        lengths = np.minimum(lengths, (duration - 1.0) / max(1, len(events)))
        starts = 0.1 + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
        fits = starts + lengths < duration - 0.05
    breaths = np.round(np.stack([starts, starts + lengths], 1)[fits], 3)
    labels: list = [None] * len(breaths)
    chosen = np.sort(rng.choice(len(breaths), size=len(events), replace=False)) if events else []
    comps = []
    for b, ev in zip(chosen, events):
        labels[b] = ev
        comps += _slots_to_components(rng, "sprsound", ev, *breaths[b])
    return RecordingPlan(stem, split, pid, age, sex, "SPRSound", cal.SPRSOUND_SAMPLE_RATE, round(duration, 3),
                         breaths, labels, comps, record_label=kind, poor_quality=kind == "Poor Quality")
