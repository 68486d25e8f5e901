//! The results of `ais-bench`: one [`Row`] per (size, senders) phase, computed from the
//! REPORTs of all members, printed as a table or as one JSON object per row.

use serde::Serialize;

use super::header::Report;

/// The figures of one phase.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// Message size, bytes.
    pub size: usize,
    /// How many members sent.
    pub senders: usize,
    /// How many members received (the group's size).
    pub members: usize,
    /// DATA delivered per second at one member (mean over members): delivered ÷ (last −
    /// first delivery).
    pub msgs_per_sec: f64,
    /// `msgs_per_sec` × size, in 10^6 bytes per second.
    pub mb_per_sec: f64,
    /// Send → own delivery, median (mean of the senders' medians), µs.
    pub p50_us: f64,
    /// 99th percentile (the worst sender's), µs.
    pub p99_us: f64,
    /// Largest (the worst sender's), µs.
    pub max_us: f64,
    /// DATA delivered at each member.
    pub delivered: u64,
    /// TRY_AGAIN answers to mcast, all senders together.
    pub try_again: u64,
    /// Whether every member reported the same delivered count and order hash.
    pub order_ok: bool,
}

impl Row {
    /// Combines the members' reports of a phase.
    pub fn from_reports(size: usize, senders: usize, reports: &[Report]) -> Self {
        let order_ok = reports
            .windows(2)
            .all(|w| w[0].delivered == w[1].delivered && w[0].order_hash == w[1].order_hash);
        let rates: Vec<f64> = reports
            .iter()
            .filter(|r| r.last_ns > r.first_ns)
            .map(|r| r.delivered as f64 * 1e9 / (r.last_ns - r.first_ns) as f64)
            .collect();
        let msgs_per_sec = mean(&rates);
        let timed: Vec<&Report> = reports.iter().filter(|r| r.latency_count > 0).collect();
        let p50s: Vec<f64> = timed.iter().map(|r| r.p50_ns as f64 / 1e3).collect();
        let worst =
            |f: fn(&Report) -> u64| timed.iter().map(|r| f(r)).max().unwrap_or(0) as f64 / 1e3;
        Self {
            size,
            senders,
            members: reports.len(),
            msgs_per_sec,
            mb_per_sec: msgs_per_sec * size as f64 / 1e6,
            p50_us: mean(&p50s),
            p99_us: worst(|r| r.p99_ns),
            max_us: worst(|r| r.max_ns),
            delivered: reports.first().map_or(0, |r| r.delivered),
            try_again: reports.iter().map(|r| r.try_again).sum(),
            order_ok,
        }
    }
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// The rows as an aligned table with a header line.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:>8} {:>7} {:>12} {:>9} {:>9} {:>9} {:>9}  {}\n",
        "size", "senders", "msgs/s", "MB/s", "p50 µs", "p99 µs", "max µs", "order check"
    );
    for r in rows {
        let order = if r.order_ok { "ok" } else { "MISMATCH" };
        out.push_str(&format!(
            "{:>8} {:>7} {:>12.0} {:>9.2} {:>9.1} {:>9.1} {:>9.1}  {}\n",
            r.size, r.senders, r.msgs_per_sec, r.mb_per_sec, r.p50_us, r.p99_us, r.max_us, order
        ));
    }
    out
}

/// The rows as JSON, one object per line.
pub fn json_lines(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        // A Row holds only numbers and booleans, which always serialize.
        out.push_str(&serde_json::to_string(r).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(delivered: u64, hash: u64, first_ns: u64, last_ns: u64) -> Report {
        Report {
            delivered,
            order_hash: hash,
            first_ns,
            last_ns,
            ..Report::default()
        }
    }

    fn timed(mut r: Report, p50_ns: u64, p99_ns: u64, max_ns: u64) -> Report {
        r.latency_count = 10;
        r.p50_ns = p50_ns;
        r.p99_ns = p99_ns;
        r.max_ns = max_ns;
        r.try_again = 2;
        r
    }

    #[test]
    fn rows_combine_the_members_reports() {
        let reports = [
            timed(report(1000, 7, 0, 1_000_000_000), 100_000, 300_000, 900_000),
            timed(report(1000, 7, 0, 500_000_000), 200_000, 400_000, 800_000),
            report(1000, 7, 10, 10),
        ];
        let row = Row::from_reports(1000, 2, &reports);
        assert_eq!(
            row,
            Row {
                size: 1000,
                senders: 2,
                members: 3,
                msgs_per_sec: 1500.0,
                mb_per_sec: 1.5,
                p50_us: 150.0,
                p99_us: 400.0,
                max_us: 900.0,
                delivered: 1000,
                try_again: 4,
                order_ok: true,
            }
        );
    }

    #[test]
    fn a_different_hash_or_count_is_a_mismatch() {
        let hash = [report(5, 1, 0, 1), report(5, 2, 0, 1)];
        assert!(!Row::from_reports(64, 1, &hash).order_ok);
        let count = [report(5, 1, 0, 1), report(4, 1, 0, 1)];
        assert!(!Row::from_reports(64, 1, &count).order_ok);
    }

    #[test]
    fn the_table_is_aligned() {
        let mut row = Row::from_reports(
            64,
            3,
            &[timed(
                report(200_000, 1, 0, 1_000_000_000),
                1_500,
                25_250,
                1_000_000,
            )],
        );
        let mut bad = row.clone();
        bad.order_ok = false;
        bad.size = 65536;
        row.try_again = 0;
        assert_eq!(
            table(&[row, bad]),
            "    size senders       msgs/s      MB/s    p50 µs    p99 µs    max µs  order check\n\
             \x20     64       3       200000     12.80       1.5      25.2    1000.0  ok\n\
             \x20  65536       3       200000     12.80       1.5      25.2    1000.0  MISMATCH\n"
        );
    }

    #[test]
    fn json_has_one_object_per_row() {
        let row = Row::from_reports(64, 1, &[report(10, 1, 0, 1_000_000_000)]);
        assert_eq!(
            json_lines(&[row]),
            "{\"size\":64,\"senders\":1,\"members\":1,\"msgs_per_sec\":10.0,\"mb_per_sec\":0.00064,\
             \"p50_us\":0.0,\"p99_us\":0.0,\"max_us\":0.0,\"delivered\":10,\"try_again\":0,\
             \"order_ok\":true}\n"
        );
    }
}
