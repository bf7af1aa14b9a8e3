-- Results found by Pix's certification id: each results file asks which of its rows a candidate
-- already holds (store_results.held_certifications) before keeping the others as unmatched. Without
-- this index every file read all the académie's results: 7.96 ms a call, 25.7 % of PostgreSQL's
-- statement time in a 400-school run (tests/benchmarks/bench_academie.py), growing with the year.
CREATE INDEX session_results_certification ON session_results (certification_id);
