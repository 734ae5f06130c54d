//! The shape of a generated project: how many entities of each type exist for a given
//! `(seed, scale)`, their id ranges, and the O(1) index arithmetic that ties them together
//! (folder trees, which cases and executions carry attachments, which (cycle, case) pair an
//! execution belongs to).
//!
//! Invariant: nothing here iterates over a whole entity type; every mapping is closed-form
//! arithmetic on indices, so a project of any scale costs a few integers of memory.

use std::ops::Range;

/// First id of each entity type; ids are contiguous per type (`base + index`).
pub(crate) mod ids {
    /// Zephyr project id.
    pub const PROJECT: i64 = 10100;
    /// Jira project id.
    pub const JIRA_PROJECT: i64 = 10000;
    /// Folders (test-case tree, then test-cycle tree, then test-plan tree).
    pub const FOLDER: i64 = 1_000;
    /// Test cases.
    pub const TEST_CASE: i64 = 1_000_000;
    /// Test cycles.
    pub const TEST_CYCLE: i64 = 50_000_000;
    /// Test executions.
    pub const EXECUTION: i64 = 100_000_000;
    /// Attachments (test-case attachments, then execution attachments).
    pub const ATTACHMENT: i64 = 700_000_000;
    /// Test steps: `TEST_STEP + case_index * 16 + step`.
    pub const TEST_STEP: i64 = 10_000_000_000;
    /// Execution steps: `EXECUTION_STEP + execution_index * 16 + step`.
    pub const EXECUTION_STEP: i64 = 20_000_000_000;
}

/// The largest accepted scale: keeps the per-type id ranges above disjoint.
pub const MAX_SCALE: u64 = 100_000_000;

/// Spreads `items` over `holders` members of a population of `population`, evenly and with a
/// seeded rotation: each holder gets `floor(items / holders)` or one more, consecutive items.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spread {
    population: u64,
    holders: u64,
    items: u64,
    rotation: u64,
}

impl Spread {
    pub(crate) fn new(population: u64, holders: u64, items: u64, rotation: u64) -> Self {
        let holders = holders.min(population).min(items);
        let rotation = if population == 0 {
            0
        } else {
            rotation % population
        };
        Spread {
            population,
            holders,
            items,
            rotation,
        }
    }

    /// Total number of items.
    pub(crate) fn items(&self) -> u64 {
        self.items
    }

    /// The holder at population index `i`, if that member holds items.
    pub(crate) fn holder_at(&self, i: u64) -> Option<u64> {
        if self.holders == 0 || i >= self.population {
            return None;
        }
        let unrotated = (i + self.population - self.rotation) % self.population;
        let h = ceil_div(
            unrotated as u128 * self.holders as u128,
            self.population as u128,
        ) as u64;
        (h < self.holders && self.unrotated_member(h) == unrotated).then_some(h)
    }

    fn unrotated_member(&self, h: u64) -> u64 {
        (h as u128 * self.population as u128 / self.holders as u128) as u64
    }

    /// The population index of holder `h`.
    #[cfg(test)]
    pub(crate) fn member_of(&self, h: u64) -> u64 {
        (self.unrotated_member(h) + self.rotation) % self.population
    }

    /// The items of holder `h`.
    pub(crate) fn items_of(&self, h: u64) -> Range<u64> {
        let start = |h: u64| (h as u128 * self.items as u128 / self.holders as u128) as u64;
        start(h)..start(h + 1)
    }

    /// Items held by population member `i` (empty when it holds none).
    pub(crate) fn items_at(&self, i: u64) -> Range<u64> {
        self.holder_at(i).map_or(0..0, |h| self.items_of(h))
    }

    /// The holder of item `j`.
    pub(crate) fn holder_of_item(&self, j: u64) -> u64 {
        (((j as u128 + 1) * self.holders as u128 - 1) / self.items as u128) as u64
    }
}

fn ceil_div(a: u128, b: u128) -> u128 {
    a.div_ceil(b)
}

/// A folder tree of up to `levels` levels laid out by index: roots first, then the second
/// level, then the third; a folder's parent always has a smaller index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tree {
    count: u64,
    roots: u64,
    level2: u64,
}

impl Tree {
    pub(crate) fn new(count: u64, levels: u32) -> Self {
        if levels <= 1 || count <= 1 {
            return Tree {
                count,
                roots: count,
                level2: 0,
            };
        }
        let roots = count.div_ceil(7).max(1);
        let level2 = if levels == 2 {
            count - roots
        } else {
            (count - roots).min(2 * roots)
        };
        Tree {
            count,
            roots,
            level2,
        }
    }

    /// Number of folders in the tree.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// `(parent index, index among siblings, depth 1..=3)` of folder `f`.
    pub(crate) fn position(&self, f: u64) -> (Option<u64>, u64, u32) {
        if f < self.roots {
            return (None, f, 1);
        }
        let k = f - self.roots;
        if k < self.level2 {
            return (Some(k % self.roots), k / self.roots, 2);
        }
        let k = k - self.level2;
        (Some(self.roots + k % self.level2), k / self.level2, 3)
    }
}

/// How many of each entity a `(seed, scale)` project holds, and how they relate.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub seed: u64,
    pub case_tree: Tree,
    pub cycle_tree: Tree,
    pub plan_folders: u64,
    pub cases: u64,
    pub cycles: u64,
    pub executions: u64,
    /// Test-case attachments over cases.
    pub case_attachments: Spread,
    /// Execution attachments over executions.
    pub execution_attachments: Spread,
    /// Executions over (cycle, case) pairs: population = holders = pairs.
    pub runs: Spread,
    /// Number of (cycle, case) pairs.
    pub pairs: u64,
    /// Offset between the case windows of consecutive cycles.
    pub cycle_window: u64,
    /// Seeded rotation of the case windows and of case folders.
    pub rotation: u64,
}

impl Layout {
    pub(crate) fn new(seed: u64, scale: u64) -> Self {
        let scale = scale.min(MAX_SCALE);
        let case_folders = (scale / 100).max(3);
        let cycle_folders = (scale / 500).max(1);
        let cycles = (scale / 250).max(2);
        let cases = (scale * 3 / 10).max(3);
        let attachments = scale * 4 / 100;
        let used = case_folders + cycle_folders + cycles + cases + attachments;
        let executions = scale.saturating_sub(used).max(1);
        let case_att = attachments / 2;
        let exec_att = attachments - case_att;
        let rotation = super::generate::mix(seed, 1, 0);
        // About 1.3 executions per pair, never more pairs than distinct (cycle, case) pairs.
        let pairs = (executions * 10 / 13)
            .clamp(1, executions)
            .min(cycles * cases);
        Layout {
            seed,
            case_tree: Tree::new(case_folders, 3),
            cycle_tree: Tree::new(cycle_folders, 2),
            plan_folders: 2,
            cases,
            cycles,
            executions,
            case_attachments: Spread::new(cases, case_att * 2 / 5 + 1, case_att, rotation),
            execution_attachments: Spread::new(
                executions,
                exec_att * 2 / 5 + 1,
                exec_att,
                rotation / 3,
            ),
            runs: Spread::new(pairs, pairs, executions, 0),
            pairs,
            cycle_window: (cases / cycles).max(1),
            rotation: rotation % cases,
        }
    }

    /// Total folders of all three trees.
    pub(crate) fn folders(&self) -> u64 {
        self.case_tree.count() + self.cycle_tree.count() + self.plan_folders
    }

    /// Folder index of test case `i` (within the test-case tree).
    pub(crate) fn case_folder(&self, i: u64) -> u64 {
        (i + self.rotation) % self.case_tree.count()
    }

    /// Pair `p` → (cycle index, case index).
    pub(crate) fn pair(&self, p: u64) -> (u64, u64) {
        let cycle = p % self.cycles;
        let slot = p / self.cycles;
        (
            cycle,
            (slot + cycle * self.cycle_window + self.rotation) % self.cases,
        )
    }

    /// Execution `e` → (pair, run number within the pair starting at 0).
    pub(crate) fn execution_pair(&self, e: u64) -> (u64, u64) {
        let p = self.runs.holder_of_item(e);
        (p, e - self.runs.items_of(p).start)
    }

    /// Executions of cycle `c`, ascending.
    pub(crate) fn executions_of_cycle(&self, c: u64) -> Vec<u64> {
        (c..self.pairs)
            .step_by(self.cycles as usize)
            .flat_map(|p| self.runs.items_of(p))
            .collect()
    }

    /// Executions of case `k`, ascending.
    pub(crate) fn executions_of_case(&self, k: u64) -> Vec<u64> {
        let mut pairs = Vec::new();
        for c in 0..self.cycles {
            let offset = (c * self.cycle_window + self.rotation) % self.cases;
            let slot = (k + self.cases - offset) % self.cases;
            let p = slot * self.cycles + c;
            if p < self.pairs {
                pairs.push(p);
            }
        }
        pairs.sort_unstable();
        pairs
            .into_iter()
            .flat_map(|p| self.runs.items_of(p))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn spread_is_consistent() {
        let s = Spread::new(300, 25, 61, 7);
        let mut seen = 0;
        let mut holders = 0;
        for i in 0..300 {
            let r = s.items_at(i);
            if !r.is_empty() {
                holders += 1;
                for j in r.clone() {
                    assert_eq!(s.member_of(s.holder_of_item(j)), i);
                }
            }
            seen += r.end - r.start;
        }
        assert_eq!(seen, 61);
        assert_eq!(holders, 25);
    }

    #[test]
    fn tree_parents_come_first_and_depth_is_bounded() {
        for n in [1, 3, 7, 20, 101, 5000] {
            let t = Tree::new(n, 3);
            let mut siblings = HashSet::new();
            for f in 0..n {
                let (parent, index, depth) = t.position(f);
                assert!(depth <= 3);
                if let Some(p) = parent {
                    assert!(p < f);
                    assert_eq!(t.position(p).2 + 1, depth);
                }
                assert!(siblings.insert((parent, index)), "duplicate sibling index");
            }
        }
    }

    #[test]
    fn pairs_are_distinct_and_case_lookup_inverts() {
        let l = Layout::new(42, 3000);
        let mut pairs = HashSet::new();
        for p in 0..l.pairs {
            assert!(pairs.insert(l.pair(p)));
        }
        let mut total = 0;
        for c in 0..l.cycles {
            for e in l.executions_of_cycle(c) {
                assert_eq!(l.pair(l.execution_pair(e).0).0, c);
                total += 1;
            }
        }
        assert_eq!(total, l.executions);
        let mut total = 0;
        for k in 0..l.cases {
            for e in l.executions_of_case(k) {
                assert_eq!(l.pair(l.execution_pair(e).0).1, k);
                total += 1;
            }
        }
        assert_eq!(total, l.executions);
    }
}
