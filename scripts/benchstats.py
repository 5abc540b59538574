"""What the bench reports share: percentiles, table rows, min / median / max, goal verdicts."""
import statistics


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def row(name, values):
    return (f"| {name} | {len(values)} | {min(values):.2f} | {pct(values, 50):.2f} | {pct(values, 90):.2f} | "
            f"{pct(values, 99):.2f} | {max(values):.2f} |")


def spread(values, fmt="{:.2f}"):
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def verdict(ok):
    return "**met**" if ok else "**missed**"
