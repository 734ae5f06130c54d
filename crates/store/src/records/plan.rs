//! The settling of a batch of new records, computed before they are inserted: for each
//! record, how many parents it waits for, whether a failed parent blocks it, or whether a
//! parent is missing from the source (it then fails naming it). Pure: the parents already in
//! the database come in as [`Parent`]s (read under `FOR SHARE` by the caller), the batch's own
//! records are new and so never done.
//!
//! Computing this in Rust lets a record be inserted once with its final state, instead of
//! inserted, then updated by a settle statement (a second version of every row) — the settle
//! was the second most expensive statement of an enqueue.

use super::{NewDep, NewRecord};
use std::collections::{HashMap, HashSet};
use ztoq_model::{RecordKind, RecordState};

/// A record of an earlier batch that records of this batch wait for, as read (and locked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parent {
    /// Record id.
    pub(crate) id: i64,
    /// State when locked.
    pub(crate) state: RecordState,
    /// The failed record it is blocked by, if blocked.
    pub(crate) blocked_by: Option<i64>,
}

/// Where a record's parent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Another record of this batch (its index).
    Batch(usize),
    /// A record of an earlier batch, by kind and source id.
    Earlier(RecordKind, i64),
}

/// A batch of records of one kind and their dependencies, deduplicated.
#[derive(Debug)]
pub(crate) struct Batch<'a> {
    /// The records, each source id once (the first wins, as `ON CONFLICT DO NOTHING` would).
    pub(crate) records: Vec<&'a NewRecord>,
    /// Parents of each record, each once, in the order the dependencies came.
    links: Vec<Vec<Link>>,
}

/// A record as it is inserted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settled {
    /// Parents not done yet.
    pub(crate) pending: i32,
    /// Its state.
    pub(crate) state: RecordState,
    /// The failed record blocking it.
    pub(crate) blocked_by: Option<i64>,
    /// Why it is failed or blocked.
    pub(crate) last_error: Option<String>,
}

impl<'a> Batch<'a> {
    /// Groups `deps` by record (dependencies of records not in `records` are ignored).
    pub(crate) fn new(kind: RecordKind, records: &'a [NewRecord], deps: &[NewDep]) -> Self {
        let mut index: HashMap<i64, usize> = HashMap::with_capacity(records.len());
        let mut kept = Vec::with_capacity(records.len());
        for r in records {
            if let std::collections::hash_map::Entry::Vacant(e) = index.entry(r.source_id) {
                e.insert(kept.len());
                kept.push(r);
            }
        }
        let mut links: Vec<Vec<Link>> = vec![Vec::new(); kept.len()];
        let mut seen: HashSet<(usize, RecordKind, i64)> = HashSet::with_capacity(deps.len());
        for d in deps {
            let Some(&child) = index.get(&d.child_source_id) else {
                continue;
            };
            if !seen.insert((child, d.parent_kind, d.parent_source_id)) {
                continue;
            }
            let link = match index.get(&d.parent_source_id) {
                Some(&p) if d.parent_kind == kind => Link::Batch(p),
                _ => Link::Earlier(d.parent_kind, d.parent_source_id),
            };
            links[child].push(link);
        }
        Batch {
            records: kept,
            links,
        }
    }

    /// The parents to read from the database (kind, source id), each once.
    pub(crate) fn earlier_parents(&self) -> Vec<(RecordKind, i64)> {
        let mut seen = HashSet::new();
        self.links
            .iter()
            .flatten()
            .filter_map(|l| match *l {
                Link::Earlier(k, s) => seen.insert((k, s)).then_some((k, s)),
                Link::Batch(_) => None,
            })
            .collect()
    }

    /// Indexes of the records of this batch that record `i` waits for.
    pub(crate) fn batch_parents(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.links[i].iter().filter_map(|l| match *l {
            Link::Batch(p) => Some(p),
            Link::Earlier(..) => None,
        })
    }

    /// The record ids record `i` waits for: `ids[j]` for the batch's record `j`, the found
    /// earlier parents' ids (missing ones have no edge).
    pub(crate) fn parent_ids<'s>(
        &'s self,
        i: usize,
        ids: &'s [i64],
        earlier: &'s HashMap<(RecordKind, i64), Parent>,
    ) -> impl Iterator<Item = i64> + 's {
        self.links[i].iter().filter_map(move |l| match *l {
            Link::Batch(p) => Some(ids[p]),
            Link::Earlier(k, s) => earlier.get(&(k, s)).map(|p| p.id),
        })
    }

    /// Settles every record given the earlier parents found (`earlier`) and the ids the batch's
    /// records will have (`ids`, in the order of [`Batch::records`]). A record whose parent is
    /// missing fails naming it (it keeps no pending count, as before); one with a failed or
    /// blocked parent is blocked by the lowest failed record id found; else it is ready when
    /// nothing is pending. Blocking propagates down chains inside the batch (parents first).
    pub(crate) fn settle(
        &self,
        kind: RecordKind,
        ids: &[i64],
        earlier: &HashMap<(RecordKind, i64), Parent>,
    ) -> Vec<Settled> {
        let n = self.records.len();
        let mut out: Vec<Option<Settled>> = vec![None; n];
        // Parents before children (Kahn); records on a loop inside the batch come last, their
        // loop members counted as pending only.
        let mut waiting_on: Vec<usize> = vec![0; n];
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, count) in waiting_on.iter_mut().enumerate() {
            for p in self.batch_parents(i) {
                *count += 1;
                children[p].push(i);
            }
        }
        let mut order: Vec<usize> = (0..n).filter(|&i| waiting_on[i] == 0).collect();
        let mut next = 0;
        while next < order.len() {
            let p = order[next];
            next += 1;
            for &c in &children[p] {
                waiting_on[c] -= 1;
                if waiting_on[c] == 0 {
                    order.push(c);
                }
            }
        }
        let mut done = vec![false; n];
        for &i in &order {
            done[i] = true;
        }
        order.extend((0..n).filter(|&i| !done[i]));
        for i in order {
            let settled = self.settle_one(kind, i, ids, earlier, &out);
            out[i] = Some(settled);
        }
        out.into_iter()
            .map(|s| s.unwrap_or_else(|| waiting(0)))
            .collect()
    }

    fn settle_one(
        &self,
        kind: RecordKind,
        i: usize,
        ids: &[i64],
        earlier: &HashMap<(RecordKind, i64), Parent>,
        settled: &[Option<Settled>],
    ) -> Settled {
        let mut pending = 0;
        let mut bad: Option<i64> = None;
        let mut worst = |b: i64| bad = Some(bad.map_or(b, |x: i64| x.min(b)));
        for link in &self.links[i] {
            match *link {
                Link::Earlier(k, s) => match earlier.get(&(k, s)) {
                    None => {
                        let r = self.records[i];
                        return Settled {
                            pending: 0,
                            state: RecordState::Failed,
                            blocked_by: None,
                            last_error: Some(format!(
                                "{} {} depends on {} {}, which is not in the source",
                                kind.as_str(),
                                r.source_key,
                                k.as_str(),
                                s
                            )),
                        };
                    }
                    Some(p) => {
                        if p.state != RecordState::Done {
                            pending += 1;
                        }
                        if matches!(p.state, RecordState::Failed | RecordState::Blocked) {
                            worst(p.blocked_by.unwrap_or(p.id));
                        }
                    }
                },
                Link::Batch(p) => {
                    pending += 1; // new records are never done
                    match settled[p].as_ref() {
                        Some(s) if s.state == RecordState::Failed => worst(ids[p]),
                        Some(s) if s.state == RecordState::Blocked => {
                            worst(s.blocked_by.unwrap_or(ids[p]))
                        }
                        _ => {}
                    }
                }
            }
        }
        match bad {
            Some(b) => Settled {
                pending,
                state: RecordState::Blocked,
                blocked_by: Some(b),
                last_error: Some(format!("blocked: depends on failed record #{b}")),
            },
            None if pending == 0 => Settled {
                pending: 0,
                state: RecordState::Ready,
                blocked_by: None,
                last_error: None,
            },
            None => waiting(pending),
        }
    }
}

fn waiting(pending: i32) -> Settled {
    Settled {
        pending,
        state: RecordState::Waiting,
        blocked_by: None,
        last_error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RecordKind as K;
    use RecordState as S;

    fn rec(id: i64) -> NewRecord {
        NewRecord {
            source_id: id,
            source_key: format!("k{id}"),
        }
    }

    fn dep(child: i64, kind: K, parent: i64) -> NewDep {
        NewDep {
            child_source_id: child,
            parent_kind: kind,
            parent_source_id: parent,
        }
    }

    fn parent(id: i64, state: S, blocked_by: Option<i64>) -> Parent {
        Parent {
            id,
            state,
            blocked_by,
        }
    }

    #[test]
    fn earlier_and_batch_parents_settle_a_batch() {
        let recs = [rec(1), rec(2), rec(3), rec(4), rec(5), rec(1)];
        let deps = [
            dep(1, K::TestCase, 10),  // done
            dep(2, K::TestCase, 11),  // waiting
            dep(2, K::TestCase, 11),  // repeated
            dep(3, K::TestCycle, 20), // failed
            dep(4, K::Execution, 3),  // in the batch, blocked by 20's id
            dep(5, K::TestCase, 99),  // missing
            dep(6, K::TestCase, 10),  // not a record of the batch
        ];
        let batch = Batch::new(K::Execution, &recs, &deps);
        assert_eq!(batch.records.len(), 5);
        assert_eq!(
            batch.earlier_parents(),
            [
                (K::TestCase, 10),
                (K::TestCase, 11),
                (K::TestCycle, 20),
                (K::TestCase, 99)
            ]
        );
        let earlier = HashMap::from([
            ((K::TestCase, 10), parent(100, S::Done, None)),
            ((K::TestCase, 11), parent(110, S::Waiting, None)),
            ((K::TestCycle, 20), parent(200, S::Failed, None)),
        ]);
        let ids = [1001, 1002, 1003, 1004, 1005];
        let s = batch.settle(K::Execution, &ids, &earlier);
        let states: Vec<(S, i32, Option<i64>)> = s
            .iter()
            .map(|s| (s.state, s.pending, s.blocked_by))
            .collect();
        assert_eq!(
            states,
            [
                (S::Ready, 0, None),
                (S::Waiting, 1, None),
                (S::Blocked, 1, Some(200)),
                (S::Blocked, 1, Some(200)),
                (S::Failed, 0, None),
            ]
        );
        assert_eq!(
            s[4].last_error.as_deref(),
            Some("execution k5 depends on test_case 99, which is not in the source")
        );
        assert_eq!(
            s[3].last_error.as_deref(),
            Some("blocked: depends on failed record #200")
        );
        let edges: Vec<i64> = batch.parent_ids(3, &ids, &earlier).collect();
        assert_eq!(edges, [1003]);
        let edges: Vec<i64> = batch.parent_ids(4, &ids, &earlier).collect();
        assert!(edges.is_empty(), "a missing parent has no edge");
    }

    #[test]
    fn chains_inside_a_batch_settle_parents_first_and_loops_end() {
        // 3 → 2 → 1 listed children first; 1's parent is missing: 2 and 3 are blocked by it.
        let recs = [rec(3), rec(2), rec(1), rec(7), rec(8)];
        let deps = [
            dep(3, K::Folder, 2),
            dep(2, K::Folder, 1),
            dep(1, K::Folder, 50),
            dep(7, K::Folder, 8),
            dep(8, K::Folder, 7),
        ];
        let batch = Batch::new(K::Folder, &recs, &deps);
        let ids = [13, 12, 11, 17, 18];
        let s = batch.settle(K::Folder, &ids, &HashMap::new());
        assert_eq!(s[2].state, S::Failed);
        assert_eq!((s[1].state, s[1].blocked_by), (S::Blocked, Some(11)));
        assert_eq!((s[0].state, s[0].blocked_by), (S::Blocked, Some(11)));
        assert_eq!((s[3].state, s[3].pending), (S::Waiting, 1));
        assert_eq!((s[4].state, s[4].pending), (S::Waiting, 1));
    }
}
