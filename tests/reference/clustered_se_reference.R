# Reference values for standard errors clustered by a column that was NOT the unit of
# randomisation (bitframe issue 13): pupils randomised individually within schools (blocks),
# standard errors clustered by school, school fixed effects, as
#   estimatr::lm_robust(score ~ arm + factor(school), clusters = school, se_type = ...)
#
# No public multi-site trial with within-site randomisation ships with the R packages installed
# here (estimatr and fabricatr carry no such data), so the data are simulated with a fixed seed
# in the shape of a multi-school tutoring trial (22 schools of 12-40 pupils, half of each school
# randomised to tutoring, a school effect, school-varying treatment effects and a prior score)
# and WRITTEN to tests/reference/clustered_se/pupils.csv; tests read only the committed files.
#
# Run from the repository root:  Rscript tests/reference/clustered_se_reference.R
# Packages: estimatr (Blair et al., CRAN), jsonlite.

suppressPackageStartupMessages({
  library(estimatr)
  library(jsonlite)
})

out_dir <- file.path("tests", "reference", "clustered_se")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
set.seed(20261201)

n_schools <- 22
sizes <- sample(12:40, n_schools, replace = TRUE)
school <- rep(sprintf("S%02d", seq_len(n_schools)), sizes)
school_effect <- rnorm(n_schools, sd = 5)[as.integer(factor(school))]
school_gain <- rnorm(n_schools, sd = 2)[as.integer(factor(school))]
# complete randomisation within each school: floor(n/2) pupils (plus a coin for an odd one) tutored
treated <- unlist(lapply(sizes, function(m) sample(rep(c(0, 1), length.out = m))))
prior <- round(rnorm(length(school), 50, 10), 1)
score <- round(50 + school_effect + (3 + school_gain) * treated + 0.6 * (prior - 50) +
                 rnorm(length(school), sd = 8 * (1 + 0.3 * treated)), 2)
pupils <- data.frame(id = sprintf("P%04d", seq_along(school)), school = school,
                     arm = ifelse(treated == 1, "tutoring", "control"), prior = prior, score = score)
write.csv(pupils, file.path(out_dir, "pupils.csv"), row.names = FALSE)
pupils <- read.csv(file.path(out_dir, "pupils.csv"))  # fit on exactly what the test reads
pupils$arm <- factor(pupils$arm, levels = c("control", "tutoring"))

row_of <- function(fit, call) {
  t <- tidy(fit)
  r <- t[t$term == "armtutoring", ]
  list(call = call, estimate = r$estimate, std_error = r$std.error, statistic = r$statistic,
       df = r$df, p_value = r$p.value, conf_low = r$conf.low, conf_high = r$conf.high,
       n = nobs(fit), n_clusters = length(unique(pupils$school)))
}

cases <- list()
for (se in c("CR0", "stata", "CR2")) {
  call <- sprintf("lm_robust(score ~ arm + factor(school), data = pupils, clusters = school, se_type = '%s')", se)
  fit <- lm_robust(score ~ arm + factor(school), data = pupils, clusters = school, se_type = se)
  cases[[paste0("blocked_", se)]] <- row_of(fit, call)
}
call <- "lm_robust(score ~ arm + prior + factor(school), data = pupils, clusters = school, se_type = 'CR2')"
fit <- lm_robust(score ~ arm + prior + factor(school), data = pupils, clusters = school, se_type = "CR2")
cases[["blocked_standard_CR2"]] <- row_of(fit, call)
call <- "lm_lin(score ~ arm, covariates = ~ prior, data = pupils, clusters = school, se_type = 'CR2')"
fit <- lm_lin(score ~ arm, covariates = ~ prior, data = pupils, clusters = school, se_type = "CR2")
cases[["lin_CR2"]] <- row_of(fit, call)

write(toJSON(list(source = paste("estimatr", packageVersion("estimatr"), "on", R.version.string),
                  data = "tests/reference/clustered_se/pupils.csv", cases = cases),
             auto_unbox = TRUE, digits = NA, pretty = TRUE),
      file.path(out_dir, "clustered_se_reference.json"))
