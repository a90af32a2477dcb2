# Reference values for bitframe.analyse.inference.iv from estimatr::iv_robust.
# Run: Rscript tests/reference/inference_iv_reference.R   (from the repository root)
# Writes tests/reference/inference/iv_data.csv and tests/reference/inference/iv_reference.json.
suppressPackageStartupMessages({library(estimatr); library(jsonlite)})
set.seed(20240611)
n <- 240
cl <- rep(1:24, each = 10)
z <- rbinom(24, 1, 0.5)[cl]                     # cluster-randomised encouragement
z3 <- sample(c("c", "a", "b"), n, replace = TRUE) # individually randomised 3 arms
x <- rnorm(n)
u <- rnorm(24)[cl] * 0.5 + rnorm(n)
d <- as.numeric(runif(n) < 0.15 + 0.6 * z + 0.1 * (x > 0))   # one-sided-ish non-compliance
da <- as.numeric(z3 == "a" & runif(n) < 0.7)
db <- as.numeric(z3 == "b" & runif(n) < 0.5)
y <- 1 + 0.8 * d + 0.5 * x + u
y3 <- 1 + 0.6 * da - 0.4 * db + 0.3 * x + rnorm(n)
za <- as.numeric(z3 == "a"); zb <- as.numeric(z3 == "b")
z2 <- as.numeric(runif(n) < 0.5)                 # a second instrument (over-identified case)
d2 <- as.numeric(runif(n) < 0.1 + 0.5 * z + 0.3 * z2)
y2 <- 0.5 + 1.2 * d2 + 0.4 * x + u
dat <- data.frame(y, d, z, x, cl, y3, da, db, za, zb, z3, z2, d2, y2)
dir.create("tests/reference/inference", showWarnings = FALSE)
write.csv(dat, "tests/reference/inference/iv_data.csv", row.names = FALSE)

tidy_fit <- function(fit) {
  s <- summary(fit)$coefficients
  list(term = rownames(s), estimate = unname(s[, "Estimate"]), std_error = unname(s[, "Std. Error"]),
       statistic = unname(s[, "t value"]), p_value = unname(s[, "Pr(>|t|)"]),
       conf_low = unname(s[, "CI Lower"]), conf_high = unname(s[, "CI Upper"]), df = unname(s[, "DF"]))
}
cases <- list()
add <- function(id, formula, se_type, clustered = FALSE) {
  fit <- if (clustered) {
    iv_robust(formula, data = dat, se_type = se_type, clusters = cl, diagnostics = TRUE)
  } else {
    iv_robust(formula, data = dat, se_type = se_type, diagnostics = TRUE)
  }
  fs <- fit$diagnostic_first_stage_fstatistic
  cases[[length(cases) + 1]] <<- c(list(id = id, formula = deparse(formula), se_type = se_type, clustered = clustered,
                                        first_stage = as.list(fs)), tidy_fit(fit))
}
for (se in c("classical", "HC0", "HC1", "HC2", "HC3")) add(paste0("simple_", se), y ~ d + x | z + x, se)
for (se in c("CR0", "stata", "CR2")) add(paste0("cluster_", se), y ~ d + x | z + x, se, clustered = TRUE)
for (se in c("HC2", "HC1")) add(paste0("multi_", se), y3 ~ da + db + x | za + zb + x, se)
add("overid_HC2", y2 ~ d2 + x | z + z2 + x, "HC2")
add("overid_CR2", y2 ~ d2 + x | z + z2 + x, "CR2", clustered = TRUE)
write(toJSON(list(generator = paste("estimatr", packageVersion("estimatr")), cases = cases), digits = NA,
             auto_unbox = TRUE, pretty = TRUE), "tests/reference/inference/iv_reference.json")
cat("wrote", length(cases), "cases\n")
