-- coursebridge schema v7: the statistics row no longer keeps a JSON copy of
-- the whole statistics (`stats`). Everything in it is either a column of its
-- own (progress, result, score, time spent, dates, attempts count, overridden)
-- or read from the folded state kept next to it (`state`: the attempts,
-- launched from the LMS, the override), so the copy only doubled the row the
-- group writer rewrites for every learner it touches (docs/PERFORMANCE.md).
ALTER TABLE learner_stats DROP COLUMN stats;
