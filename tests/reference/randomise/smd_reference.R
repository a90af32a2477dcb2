# Reference standardised mean differences for tests/randomise/test_balance.py.
#
# Formulae: Austin PC (2009) "Balance diagnostics for comparing the distribution of
# baseline covariates between treatment groups in propensity-score matched samples",
# Stat Med 28:3083-3107, eq. 1 (continuous: sample variances) and eq. 2 (binary:
# p(1-p)); categorical covariates per level indicator (Yang & Dalton 2012, SGF 335).
# Computed here with base R (mean, var) independently of the Python code.
#
# Run: Rscript tests/reference/randomise/smd_reference.R  (from the repository root)
suppressPackageStartupMessages(library(jsonlite))
out_dir <- "tests/reference/randomise"
set.seed(20240601)
n <- 150
arm <- sample(c("control", "sms", "letter"), n, replace = TRUE, prob = c(0.5, 0.25, 0.25))
age <- round(rnorm(n, mean = 45 + 3 * (arm == "sms"), sd = 12), 1)
age[sample(n, 7)] <- NA
region <- sample(c("North", "South", "East"), n, replace = TRUE, prob = c(0.5, 0.3, 0.2))
region[sample(n, 5)] <- NA
dat <- data.frame(pid = sprintf("P%03d", seq_len(n)), arm = arm, age = age, region = region)
write.csv(dat, file.path(out_dir, "smd_data.csv"), row.names = FALSE, na = "")

smd_cont <- function(x, g, a, c) {
  xa <- x[g == a & !is.na(x)]; xc <- x[g == c & !is.na(x)]
  list(n_arm = length(xa), n_comparator = length(xc), mean_arm = mean(xa), mean_comparator = mean(xc),
       smd = (mean(xa) - mean(xc)) / sqrt((var(xa) + var(xc)) / 2))
}
smd_bin <- function(x, g, a, c, level) {
  ok <- !is.na(x)
  pa <- mean(x[g == a & ok] == level); pc <- mean(x[g == c & ok] == level)
  list(n_arm = sum(g == a & ok), n_comparator = sum(g == c & ok), mean_arm = pa, mean_comparator = pc,
       smd = (pa - pc) / sqrt((pa * (1 - pa) + pc * (1 - pc)) / 2))
}
rows <- list()
for (a in c("sms", "letter")) {
  rows[[length(rows) + 1]] <- c(list(covariate = "age", level = "", arm = a, comparator = "control"),
                                smd_cont(dat$age, dat$arm, a, "control"))
  for (lev in sort(unique(na.omit(dat$region)))) {
    rows[[length(rows) + 1]] <- c(list(covariate = "region", level = lev, arm = a, comparator = "control"),
                                  smd_bin(dat$region, dat$arm, a, "control", lev))
  }
}
write_json(list(source = "base R mean/var, Austin (2009) eqs. 1-2", R_version = R.version.string,
                rows = rows), file.path(out_dir, "smd_reference.json"), auto_unbox = TRUE, digits = NA, pretty = TRUE)
cat("wrote", length(rows), "reference SMDs\n")
