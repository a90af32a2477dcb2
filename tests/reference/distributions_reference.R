# Reference values for bitframe's own Student t and chi-square functions
# (src/bitframe/analyse/distributions.py, docs/decisions/0014-own-t-distribution.md).
#
# Records R's pt(t, df, lower.tail = FALSE), qt(p, df), its round trip pt(qt(p, df), df) and pchisq(x, df, lower.tail = FALSE)
# (R's nmath: pbeta / TOMS 708 for pt, Hill 1970 with Taylor steps for qt, pgamma for pchisq)
# over a grid of df, including non-integer df, and of arguments reaching into the far tails.
# For df > 4e5 R's pt uses a normal approximation (Abramowitz & Stegun 26.7.8) and qt iterates on
# it, so those rows are an approximation; the test says how it treats them.
# Tests read only the CSV (CI has no R).
#
# Run from the repository root:  Rscript tests/reference/distributions_reference.R

dfs <- c(0.5, 1, 1.7, 2, 3.3, 5, 10, 29.4, 100, 1e3, 1e5, 1e7)
ts <- c(-Inf, -30, -2, 0, 1e-8, 0.1, 0.5, 1, 1.5, 1.96, 2, 2.5, 3, 5, 10, 30, 100, 1e3, 1e5, 1e10,
        1e50, 1e100, 1e150, 1e300, Inf)
ps <- c(1e-300, 1e-10, 0.0005, 0.025, 0.05, 0.3, 0.5, 0.975, 0.9995, 1 - 1e-10)
xs <- c(0, 1e-10, 0.01, 0.5, 1, 2, 3.84, 5, 10, 50, 100, 500, 1500)
relative_x <- c(0.5, 0.9, 0.99, 1, 1.01, 1.1, 2, 3)

rows <- list()
for (df in dfs) {
  rows[[length(rows) + 1]] <- data.frame(fun = "pt_upper", df = df, x = ts, value = pt(ts, df, lower.tail = FALSE))
  q <- qt(ps, df)
  rows[[length(rows) + 1]] <- data.frame(fun = "qt", df = df, x = ps, value = q)
  # R's own round trip, the tail probability of qt(p) on p's side (p for p < 1/2, else 1 - p): where it misses, R's qt is the inexact one (it iterates only to
  # ~1e-13 for df < 1 and starts far off in the far tails of small df)
  rows[[length(rows) + 1]] <- data.frame(fun = "pt_at_qt", df = df, x = ps, value = ifelse(ps < 0.5, pt(q, df), pt(q, df, lower.tail = FALSE)))
  x <- sort(unique(c(xs, df * relative_x)))
  rows[[length(rows) + 1]] <- data.frame(fun = "pchisq_upper", df = df, x = x, value = pchisq(x, df, lower.tail = FALSE))
}
out <- do.call(rbind, rows)
fmt <- function(v) ifelse(is.finite(v), sprintf("%.17g", v), as.character(v))
out$df <- fmt(out$df)
out$x <- fmt(out$x)
out$value <- fmt(out$value)
writeLines(c(paste0("# ", R.version.string, "; written by tests/reference/distributions_reference.R"),
             "fun,df,x,value", paste(out$fun, out$df, out$x, out$value, sep = ",")),
           file.path("tests", "reference", "distributions_reference.csv"))
