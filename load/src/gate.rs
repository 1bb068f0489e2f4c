//! The correctness gates: the same for livecart and every peer design, and a failed one makes
//! the run exit non-zero. A fast server that sells what it does not have, or acknowledges what
//! it did not keep, has not been measured at all.

use serde::Serialize;

/// What a sale ended with, from both sides: the client's acknowledgements, and the server's
/// stock and stored order rows as read back.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    /// Units the client saw acknowledged (201s and `order` frames), warm-up included.
    pub acked: u64,
    /// Orders sent whose answer never came (a timeout, a broken connection): the server may
    /// have taken each without the client knowing, so up to this many units may be sold
    /// beyond the acknowledged ones.
    pub unanswered: u64,
    pub stock: u64,
    pub stock_left: u64,
    /// Stored orders holding stock, and their units.
    pub rows: u64,
    pub row_units: u64,
    /// The most units one buyer holds.
    pub max_per_user: u64,
    pub per_user_limit: u64,
}

/// One gate's verdict.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Gate {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// Every gate over `counts`. Quantities are 1 per order, so acknowledged orders, units sold and
/// stored rows must all be the same number.
pub fn check(c: &Counts) -> Vec<Gate> {
    let sold = c.stock.saturating_sub(c.stock_left);
    vec![
        Gate {
            name: "acknowledged == units sold",
            // Every acknowledged unit is sold; beyond them, only orders whose answer never
            // came may be (their outcome is unknown to the client, as in production).
            passed: c.acked <= sold && sold <= c.acked + c.unanswered,
            detail: if c.unanswered == 0 {
                format!(
                    "{} acknowledged, {} sold ({} - {} left)",
                    c.acked, sold, c.stock, c.stock_left
                )
            } else {
                format!(
                    "{} acknowledged, {} sold ({} - {} left); {} unanswered, so up to {} may be sold",
                    c.acked,
                    sold,
                    c.stock,
                    c.stock_left,
                    c.unanswered,
                    c.acked + c.unanswered
                )
            },
        },
        Gate {
            name: "units sold == stored rows",
            passed: sold == c.row_units && c.rows == c.row_units,
            detail: format!("{sold} sold, {} rows holding {} units", c.rows, c.row_units),
        },
        Gate {
            name: "nobody over the limit",
            passed: c.max_per_user <= c.per_user_limit,
            detail: format!(
                "the most one buyer holds: {} (limit {})",
                c.max_per_user, c.per_user_limit
            ),
        },
        Gate {
            name: "nothing oversold",
            passed: c.stock_left <= c.stock && c.row_units <= c.stock,
            detail: format!(
                "{} stored units of {} in stock, {} left",
                c.row_units, c.stock, c.stock_left
            ),
        },
    ]
}

/// The sell-out pass also requires that the listing really sold out: with more demand than
/// stock, a server that refuses early is as wrong as one that oversells.
pub fn sold_out(c: &Counts) -> Gate {
    Gate {
        name: "sold out exactly",
        passed: c.stock_left == 0 && c.row_units == c.stock,
        detail: format!("{} of {} units stored, {} left", c.row_units, c.stock, c.stock_left),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> Counts {
        Counts {
            unanswered: 0,
            acked: 70,
            stock: 100,
            stock_left: 30,
            rows: 70,
            row_units: 70,
            max_per_user: 2,
            per_user_limit: 2,
        }
    }

    fn failed(c: &Counts) -> Vec<&'static str> {
        check(c).into_iter().filter(|g| !g.passed).map(|g| g.name).collect()
    }

    #[test]
    fn a_consistent_sale_passes_every_gate() {
        assert!(failed(&counts()).is_empty());
        assert!(!sold_out(&counts()).passed, "30 units are left");
        let all_gone = Counts {
            acked: 100,
            stock_left: 0,
            rows: 100,
            row_units: 100,
            ..counts()
        };
        assert!(failed(&all_gone).is_empty());
        assert!(sold_out(&all_gone).passed);
    }

    #[test]
    fn a_unit_sold_to_an_unanswered_order_passes_but_no_more() {
        let mut c = counts();
        c.stock_left -= 1;
        c.rows += 1;
        c.row_units += 1;
        assert_eq!(
            failed(&c),
            ["acknowledged == units sold"],
            "an extra unit nobody may have asked for"
        );
        c.unanswered = 1;
        assert!(
            failed(&c).is_empty(),
            "one order's answer never came: it may be the extra unit"
        );
        c.stock_left -= 1;
        c.rows += 1;
        c.row_units += 1;
        assert_eq!(
            failed(&c),
            ["acknowledged == units sold"],
            "two extra units, one unanswered order"
        );
    }

    #[test]
    fn an_acknowledgement_the_server_did_not_keep_fails() {
        let lost = Counts { acked: 71, ..counts() };
        assert_eq!(failed(&lost), ["acknowledged == units sold"]);
    }

    #[test]
    fn stock_taken_without_a_row_fails() {
        let missing = Counts {
            acked: 71,
            stock_left: 29,
            ..counts()
        };
        assert_eq!(failed(&missing), ["units sold == stored rows"]);
    }

    #[test]
    fn a_buyer_over_the_limit_fails() {
        assert_eq!(
            failed(&Counts {
                max_per_user: 3,
                ..counts()
            }),
            ["nobody over the limit"]
        );
    }

    #[test]
    fn overselling_fails() {
        // Stock went negative in a store that lets it (a counter below zero reads as huge).
        let oversold = Counts {
            acked: 101,
            stock_left: 0,
            rows: 101,
            row_units: 101,
            ..counts()
        };
        let names = failed(&oversold);
        assert!(names.contains(&"nothing oversold"), "{names:?}");
    }
}
