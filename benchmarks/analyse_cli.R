# The R path that benchmarks/bench_analyse_cli.py compares `bitframe analyse` with: read the
# participants, the randomisation list and the outcomes (data.table::fread), merge them by id
# and fit the pre-registered OLS with 5 covariates (estimatr::lm_robust, HC2; or CR2 by cluster).
#
# Usage: Rscript benchmarks/analyse_cli.R DIR hc2|cr2
# DIR holds participants.csv, list.csv and outcomes.csv as the benchmark writes them.
suppressPackageStartupMessages({
  library(data.table)
  library(estimatr)
})
args <- commandArgs(trailingOnly = TRUE)
dir <- args[[1]]
mode <- args[[2]]
id <- c(pid = "character")
participants <- fread(file.path(dir, "participants.csv"), colClasses = id)
allocation <- fread(file.path(dir, "list.csv"), colClasses = id)
outcomes <- fread(file.path(dir, "outcomes.csv"), colClasses = id)
merged <- merge(allocation[, .(pid, arm)], outcomes, by = "pid", all.x = TRUE)
merged <- merge(merged, participants, by = "pid", all.x = TRUE)
merged[, arm := factor(arm, levels = c("control", "treatment"))]
formula <- y ~ arm + x1 + x2 + x3 + x4 + x5
fit <- if (mode == "cr2") {
  lm_robust(formula, data = merged, clusters = school, se_type = "CR2")
} else {
  lm_robust(formula, data = merged, se_type = "HC2")
}
row <- tidy(fit)[2, ]
cat(sprintf("%s %.10g %.10g %.10g\n", row$term, row$estimate, row$std.error, row$df))
