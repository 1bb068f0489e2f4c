//! livecart's own counters (`GET /metrics`), read before and after a pass to explain the
//! client's figures: orders per journal commit, the time `place_order` measures, the relay.

use serde::Serialize;

/// Counters of the journal, the order path and the outbox relay. The Prometheus text is
/// cumulative, so a pass keeps the difference of two reads.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ServerFigures {
    /// Journal batches committed: one transaction each.
    pub commits: f64,
    /// Entries those batches held (orders, here).
    pub journaled: f64,
    /// Events the outbox relay delivered to the consumers.
    pub published: f64,
    /// Orders timed by `place_order` from the actor lookup to its answer (the commit included),
    /// and their total time: the server's share of the client's latency.
    pub decided: f64,
    pub deciding_s: f64,
}

impl ServerFigures {
    pub fn parse(text: &str) -> ServerFigures {
        let read = |name: &str| {
            text.lines()
                .filter_map(|line| line.split_once(' '))
                .find(|(key, _)| *key == name)
                .and_then(|(_, value)| value.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        ServerFigures {
            commits: read("livecart_journal_batch_size_count"),
            journaled: read("livecart_journal_batch_size_sum"),
            published: read("livecart_outbox_published_total"),
            decided: read("livecart_place_order_seconds_count"),
            deciding_s: read("livecart_place_order_seconds_sum"),
        }
    }

    pub fn since(self, before: ServerFigures) -> ServerFigures {
        ServerFigures {
            commits: self.commits - before.commits,
            journaled: self.journaled - before.journaled,
            published: self.published - before.published,
            decided: self.decided - before.decided,
            deciding_s: self.deciding_s - before.deciding_s,
        }
    }

    /// Orders per journal commit.
    pub fn per_commit(&self) -> f64 {
        self.journaled / self.commits.max(1.0)
    }

    /// Mean ms from the actor lookup to the answer.
    pub fn actor_ms(&self) -> f64 {
        1000.0 * self.deciding_s / self.decided.max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read_by_exact_name_and_differenced() {
        let before =
            ServerFigures::parse("livecart_journal_batch_size_count 10\nlivecart_journal_batch_size_sum 100\n");
        let text = "# HELP x\nlivecart_journal_batch_size_count 30\nlivecart_journal_batch_size_sum 700\n\
                    livecart_journal_batch_size_sum_other 9\nlivecart_place_order_seconds_count 600\n\
                    livecart_place_order_seconds_sum 1.2\n";
        let d = ServerFigures::parse(text).since(before);
        assert_eq!(d.per_commit(), 30.0);
        assert!((d.actor_ms() - 2.0).abs() < 1e-9);
        assert_eq!(d.published, 0.0);
    }
}
