# Reference values for bitframe's linear estimators (src/bitframe/analyse/linear.py, dim.py).
#
# Simulates small trial datasets with a fixed seed, WRITES THEM to tests/reference/estimatr_data/,
# and records estimatr::lm_robust / lm_lin / difference_in_means and
# clubSandwich::coef_test(vcov = "CR2", test = "Satterthwaite") output in
# tests/reference/estimatr_reference.json. Tests read only those files (CI has no R).
#
# Run from the repository root:  Rscript tests/reference/estimatr_reference.R
# Packages: estimatr (Blair et al., CRAN), clubSandwich (Pustejovsky, CRAN), jsonlite.

suppressPackageStartupMessages({
  library(estimatr)
  library(clubSandwich)
  library(jsonlite)
})

out_dir <- file.path("tests", "reference")
data_dir <- file.path(out_dir, "estimatr_data")
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)
set.seed(20240611)

# ---------------------------------------------------------------------------------------------
# datasets
# ---------------------------------------------------------------------------------------------

# 1. individually randomised, unbalanced two arms (30% treated) and three unbalanced arms;
#    heteroskedastic errors; weights
n <- 300
simple <- data.frame(id = seq_len(n))
simple$x1 <- rnorm(n)
simple$x2 <- rnorm(n, 2, 1.5)
simple$x3 <- rbinom(n, 1, 0.4)
simple$z <- rbinom(n, 1, 0.3)
simple$arm3 <- sample(c("control", "letter", "sms"), n, replace = TRUE, prob = c(0.5, 0.3, 0.2))
simple$w <- round(rexp(n) + 0.1, 4)
simple$y <- 1 + 0.4 * simple$z + 0.8 * simple$x1 - 0.3 * simple$x2 + 0.5 * simple$x3 +
  rnorm(n, sd = exp(0.4 * simple$x1 + 0.3 * simple$z))
simple$y3 <- 2 + 0.3 * (simple$arm3 == "letter") + 0.6 * (simple$arm3 == "sms") +
  0.7 * simple$x1 + rnorm(n, sd = 1 + 0.5 * (simple$arm3 == "sms"))
simple$x12 <- simple$x1 + simple$x2  # collinear column for the rank-deficiency check
simple$y <- round(simple$y, 6); simple$y3 <- round(simple$y3, 6)
simple$x1 <- round(simple$x1, 6); simple$x2 <- round(simple$x2, 6); simple$x12 <- simple$x1 + simple$x2

# 2. stratified: 8 strata of unequal size, complete randomisation within strata (>= 2 per arm);
#    s_single moves one unit into its own stratum "s99"
sizes <- c(12, 20, 35, 8, 16, 40, 25, 14)
strata <- data.frame(s = rep(sprintf("s%02d", seq_along(sizes)), sizes))
strata$z <- unlist(lapply(sizes, function(m) sample(rep(0:1, c(m - floor(m / 2), floor(m / 2))))))
strata$arm3 <- unlist(lapply(sizes, function(m) sample(rep(c("control", "letter", "sms"), length.out = m))))
strata$x1 <- round(rnorm(nrow(strata)), 6)
s_eff <- setNames(rnorm(length(sizes)), sprintf("s%02d", seq_along(sizes)))
strata$y <- round(s_eff[strata$s] + 0.5 * strata$z + 0.6 * strata$x1 + rnorm(nrow(strata)), 6)
strata$y3 <- round(s_eff[strata$s] + 0.3 * (strata$arm3 == "letter") + 0.5 * (strata$arm3 == "sms") +
  rnorm(nrow(strata)), 6)
strata$s_single <- strata$s
strata$s_single[1] <- "s99"

# 3. cluster randomised: 50 clusters in 10 blocks of 5; sizes 1..20 with several of size 1 and 2;
#    cluster-level assignment of z (2 or 3 treated per block) and of three arms
csize <- c(1, 2, 1, 2, 2, 1, 3, 2, sample(3:20, 42, replace = TRUE))
csize <- sample(csize)
ncl <- length(csize)
cl_df <- data.frame(cl = sprintf("c%02d", seq_len(ncl)), b = rep(sprintf("b%02d", 1:10), each = 5))
cl_df$z <- unlist(lapply(1:10, function(i) sample(c(0, 0, 1, 1, rbinom(1, 1, 0.5)))))
cl_df$arm3 <- sample(rep(c("control", "letter", "sms"), length.out = ncl))
cl_df$u <- rnorm(ncl, sd = 0.7)
cluster <- cl_df[rep(seq_len(ncl), csize), ]
rownames(cluster) <- NULL
cluster$x1 <- round(rnorm(nrow(cluster)), 6)
cluster$w <- round(runif(nrow(cluster), 0.5, 2), 4)
cluster$y <- round(0.2 + 0.4 * cluster$z + 0.5 * cluster$x1 + cluster$u + rnorm(nrow(cluster)), 6)
cluster$y3 <- round(0.2 + 0.3 * (cluster$arm3 == "letter") + 0.1 * (cluster$arm3 == "sms") +
  0.5 * cluster$x1 + cluster$u + rnorm(nrow(cluster)), 6)
cluster$u <- NULL
# the smallest cluster alone in its own block: with block dummies its rows have leverage 1 and
# I - H_gg is singular (CR2's pseudo-inverse square root)
cluster$b_single <- cluster$b
cluster$b_single[cluster$cl == cluster$cl[which.min(ave(seq_along(cluster$cl), cluster$cl, FUN = length))]] <- "b99"

# 4. matched pairs of units (30 pairs), matched pairs of clusters (15 pairs of clusters of 2-6 units),
#    and blocks mixing pairs with larger blocks
pairs <- data.frame(pair = rep(sprintf("p%02d", 1:30), each = 2))
pairs$z <- unlist(lapply(1:30, function(i) sample(0:1)))
pairs$y <- round(rep(rnorm(30), each = 2) + 0.5 * pairs$z + rnorm(60, sd = 0.5), 6)

cp_size <- sample(2:6, 30, replace = TRUE)
cpairs <- data.frame(cl = rep(sprintf("k%02d", 1:30), cp_size),
                     pair = rep(rep(sprintf("q%02d", 1:15), each = 2), cp_size))
cz <- unlist(lapply(1:15, function(i) sample(0:1)))
cpairs$z <- rep(cz, cp_size)
cpairs$y <- round(rep(rnorm(15), each = 2)[match(cpairs$cl, sprintf("k%02d", 1:30))] +
  0.4 * cpairs$z + rnorm(nrow(cpairs)), 6)

mb_size <- c(2, 2, 2, 6, 8, 2, 10, 4)
mixed <- data.frame(b = rep(sprintf("m%02d", seq_along(mb_size)), mb_size))
mixed$z <- unlist(lapply(mb_size, function(m) sample(rep(0:1, m / 2))))
mixed$y <- round(rnorm(nrow(mixed)) + 0.3 * mixed$z, 6)

datasets <- list(simple = simple, strata = strata, cluster = cluster, pairs = pairs,
                 cpairs = cpairs, mixed = mixed)
for (nm in names(datasets)) {
  write.csv(datasets[[nm]], file.path(data_dir, paste0(nm, ".csv")), row.names = FALSE)
}

# ---------------------------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------------------------

cases <- list()
tidy_rows <- function(fit) {
  td <- tidy(fit)
  data.frame(term = td$term, estimate = td$estimate, std_error = td$std.error,
             statistic = td$statistic, df = td$df, p_value = td$p.value,
             conf_low = td$conf.low, conf_high = td$conf.high, stringsAsFactors = FALSE)
}

# spec fields: fn, dataset, outcome, treatment, control (condition1), arm (condition2),
# covariates (vector), fe (stratum column entered as dummies), lin_strata (stratum column given to
# lm_lin as a factor covariate), blocks, clusters, weights, se_type, ci_level
add_case <- function(id, spec, call) {
  spec$id <- id
  d <- datasets[[spec$dataset]]
  alpha <- 1 - (if (is.null(spec$ci_level)) 0.95 else spec$ci_level)
  rhs <- c(spec$treatment, spec$covariates, if (!is.null(spec$fe)) sprintf("factor(%s)", spec$fe))
  f <- as.formula(paste(spec$outcome, "~", paste(rhs, collapse = " + ")))
  wt <- if (!is.null(spec$weights)) d[[spec$weights]] else NULL
  clus <- if (!is.null(spec$clusters)) d[[spec$clusters]] else NULL
  spec["error"] <- list(NULL)
  spec["warning"] <- list(NULL)
  res <- withCallingHandlers(tryCatch({
    if (spec$fn == "lm_robust") {
      d$.w <- wt; d$.cl <- clus
      fit <- lm_robust(f, data = d, weights = if (is.null(wt)) NULL else .w,
                       clusters = if (is.null(clus)) NULL else .cl, se_type = spec$se_type, alpha = alpha)
      tidy_rows(fit)
    } else if (spec$fn == "lm_lin") {
      cov_terms <- c(spec$covariates, if (!is.null(spec$lin_strata)) sprintf("factor(%s)", spec$lin_strata))
      d$.w <- wt; d$.cl <- clus
      fit <- lm_lin(as.formula(paste(spec$outcome, "~", spec$treatment)),
                    covariates = as.formula(paste("~", paste(cov_terms, collapse = " + "))), data = d,
                    weights = if (is.null(wt)) NULL else .w, clusters = if (is.null(clus)) NULL else .cl,
                    se_type = spec$se_type, alpha = alpha)
      tidy_rows(fit)
    } else if (spec$fn == "difference_in_means") {
      d$.b <- if (!is.null(spec$blocks)) d[[spec$blocks]] else NULL
      d$.cl <- clus
      fit <- difference_in_means(as.formula(paste(spec$outcome, "~", spec$treatment)), data = d,
                                 blocks = if (is.null(spec$blocks)) NULL else .b,
                                 clusters = if (is.null(clus)) NULL else .cl,
                                 condition1 = spec$control, condition2 = spec$arm, alpha = alpha)
      r <- tidy_rows(fit)
      r$design <- fit$design
      r
    } else if (spec$fn == "coef_test") {
      m <- if (is.null(wt)) lm(f, data = d) else lm(f, data = d, weights = wt)
      ct <- coef_test(m, vcov = "CR2", cluster = clus, test = "Satterthwaite")
      data.frame(term = ct$Coef, estimate = ct$beta, std_error = ct$SE, statistic = ct$tstat,
                 df = ct$df_Satt, p_value = ct$p_Satt, stringsAsFactors = FALSE)
    } else if (spec$fn == "lm") {
      m <- lm(f, data = d)
      data.frame(term = names(coef(m)), estimate = unname(coef(m)), stringsAsFactors = FALSE)
    }
  }, error = function(e) {
    spec$error <<- conditionMessage(e)
    NULL
  }), warning = function(w) {
    spec$warning <<- conditionMessage(w)
    invokeRestart("muffleWarning")
  })
  spec$call <- call
  spec["rows"] <- list(res)
  cases[[length(cases) + 1]] <<- spec
}

X4 <- c("x1", "x2", "x3")
for (s in c("classical", "HC0", "HC1", "HC2", "HC3")) {
  add_case(paste0("simple_ols_", s),
           list(fn = "lm_robust", dataset = "simple", outcome = "y", treatment = "z", control = "0",
                covariates = X4, se_type = s),
           sprintf("lm_robust(y ~ z + x1 + x2 + x3, data = simple, se_type = '%s')", s))
}
for (s in c("classical", "HC1", "HC2", "HC3")) {
  add_case(paste0("simple_wls_", s),
           list(fn = "lm_robust", dataset = "simple", outcome = "y", treatment = "z", control = "0",
                covariates = X4, weights = "w", se_type = s),
           sprintf("lm_robust(y ~ z + x1 + x2 + x3, data = simple, weights = w, se_type = '%s')", s))
}
add_case("simple_ols_HC2_ci90",
         list(fn = "lm_robust", dataset = "simple", outcome = "y", treatment = "z", control = "0",
              covariates = X4, se_type = "HC2", ci_level = 0.90),
         "lm_robust(y ~ z + x1 + x2 + x3, data = simple, se_type = 'HC2', alpha = 0.10)")
add_case("simple_ols_nocov_HC2",
         list(fn = "lm_robust", dataset = "simple", outcome = "y", treatment = "z", control = "0", se_type = "HC2"),
         "lm_robust(y ~ z, data = simple, se_type = 'HC2')")
add_case("simple_lin_HC2",
         list(fn = "lm_lin", dataset = "simple", outcome = "y", treatment = "z", control = "0",
              covariates = X4, se_type = "HC2"),
         "lm_lin(y ~ z, covariates = ~ x1 + x2 + x3, data = simple, se_type = 'HC2')")
add_case("simple_lin_HC1",
         list(fn = "lm_lin", dataset = "simple", outcome = "y", treatment = "z", control = "0",
              covariates = X4, se_type = "HC1"),
         "lm_lin(y ~ z, covariates = ~ x1 + x2 + x3, data = simple, se_type = 'HC1')")
add_case("simple_lin_weighted_HC2",
         list(fn = "lm_lin", dataset = "simple", outcome = "y", treatment = "z", control = "0",
              covariates = X4, weights = "w", se_type = "HC2"),
         "lm_lin(y ~ z, covariates = ~ x1 + x2 + x3, data = simple, weights = w, se_type = 'HC2')")
add_case("simple_dim",
         list(fn = "difference_in_means", dataset = "simple", outcome = "y", treatment = "z", control = "0", arm = "1"),
         "difference_in_means(y ~ z, data = simple)")
add_case("simple_arm3_ols_HC2",
         list(fn = "lm_robust", dataset = "simple", outcome = "y3", treatment = "arm3", control = "control",
              covariates = c("x1"), se_type = "HC2"),
         "lm_robust(y3 ~ arm3 + x1, data = simple, se_type = 'HC2')")
add_case("simple_arm3_lin_HC2",
         list(fn = "lm_lin", dataset = "simple", outcome = "y3", treatment = "arm3", control = "control",
              covariates = c("x1", "x2"), se_type = "HC2"),
         "lm_lin(y3 ~ arm3, covariates = ~ x1 + x2, data = simple, se_type = 'HC2')")
for (a in c("letter", "sms")) {
  add_case(paste0("simple_arm3_dim_", a),
           list(fn = "difference_in_means", dataset = "simple", outcome = "y3", treatment = "arm3",
                control = "control", arm = a),
           sprintf("difference_in_means(y3 ~ arm3, data = simple, condition1 = 'control', condition2 = '%s')", a))
}
add_case("simple_lm_collinear",
         list(fn = "lm", dataset = "simple", outcome = "y", treatment = "z", control = "0",
              covariates = c("x1", "x2", "x12")),
         "lm(y ~ z + x1 + x2 + x12, data = simple)  # R drops x12")

# stratified
add_case("strata_ols_fe_HC2",
         list(fn = "lm_robust", dataset = "strata", outcome = "y", treatment = "z", control = "0", fe = "s",
              se_type = "HC2"),
         "lm_robust(y ~ z + factor(s), data = strata, se_type = 'HC2')")
add_case("strata_ols_fe_x_HC1",
         list(fn = "lm_robust", dataset = "strata", outcome = "y", treatment = "z", control = "0",
              covariates = c("x1"), fe = "s", se_type = "HC1"),
         "lm_robust(y ~ z + x1 + factor(s), data = strata, se_type = 'HC1')")
add_case("strata_ols_fe_arm3_HC3",
         list(fn = "lm_robust", dataset = "strata", outcome = "y3", treatment = "arm3", control = "control",
              fe = "s", se_type = "HC3"),
         "lm_robust(y3 ~ arm3 + factor(s), data = strata, se_type = 'HC3')")
add_case("strata_dim_blocked",
         list(fn = "difference_in_means", dataset = "strata", outcome = "y", treatment = "z", control = "0",
              arm = "1", blocks = "s"),
         "difference_in_means(y ~ z, blocks = s, data = strata)")
for (a in c("letter", "sms")) {
  add_case(paste0("strata_dim_blocked_arm3_", a),
           list(fn = "difference_in_means", dataset = "strata", outcome = "y3", treatment = "arm3",
                control = "control", arm = a, blocks = "s"),
           sprintf("difference_in_means(y3 ~ arm3, blocks = s, data = strata, condition1 = 'control', condition2 = '%s')", a))
}
add_case("strata_lin_strata_HC2",
         list(fn = "lm_lin", dataset = "strata", outcome = "y", treatment = "z", control = "0",
              covariates = c("x1"), lin_strata = "s", se_type = "HC2"),
         "lm_lin(y ~ z, covariates = ~ x1 + factor(s), data = strata, se_type = 'HC2')")
add_case("strata_single_ols_fe_HC1",
         list(fn = "lm_robust", dataset = "strata", outcome = "y", treatment = "z", control = "0",
              fe = "s_single", se_type = "HC1"),
         "lm_robust(y ~ z + factor(s_single), data = strata, se_type = 'HC1')")
add_case("strata_single_ols_fe_HC2",
         list(fn = "lm_robust", dataset = "strata", outcome = "y", treatment = "z", control = "0",
              fe = "s_single", se_type = "HC2"),
         "lm_robust(y ~ z + factor(s_single), data = strata, se_type = 'HC2')  # NaN: leverage 1")
add_case("strata_single_dim_blocked",
         list(fn = "difference_in_means", dataset = "strata", outcome = "y", treatment = "z", control = "0",
              arm = "1", blocks = "s_single"),
         "difference_in_means(y ~ z, blocks = s_single, data = strata)  # error: singleton block")

# clustered
for (s in c("CR0", "stata", "CR2")) {
  add_case(paste0("cluster_ols_", s),
           list(fn = "lm_robust", dataset = "cluster", outcome = "y", treatment = "z", control = "0",
                covariates = c("x1"), clusters = "cl", se_type = s),
           sprintf("lm_robust(y ~ z + x1, clusters = cl, data = cluster, se_type = '%s')", s))
}
add_case("cluster_ols_nocov_CR2",
         list(fn = "lm_robust", dataset = "cluster", outcome = "y", treatment = "z", control = "0",
              clusters = "cl", se_type = "CR2"),
         "lm_robust(y ~ z, clusters = cl, data = cluster, se_type = 'CR2')")
add_case("cluster_ols_fe_CR2",
         list(fn = "lm_robust", dataset = "cluster", outcome = "y", treatment = "z", control = "0",
              covariates = c("x1"), fe = "b", clusters = "cl", se_type = "CR2"),
         "lm_robust(y ~ z + x1 + factor(b), clusters = cl, data = cluster, se_type = 'CR2')")
add_case("cluster_ols_fe_single_CR2",
         list(fn = "lm_robust", dataset = "cluster", outcome = "y", treatment = "z", control = "0",
              covariates = c("x1"), fe = "b_single", clusters = "cl", se_type = "CR2"),
         "lm_robust(y ~ z + x1 + factor(b_single), clusters = cl, data = cluster, se_type = 'CR2')")
add_case("cluster_coef_test_fe_single_CR2",
         list(fn = "coef_test", dataset = "cluster", outcome = "y", treatment = "z", control = "0",
              covariates = c("x1"), fe = "b_single", clusters = "cl", se_type = "CR2"),
         "coef_test(lm(y ~ z + x1 + factor(b_single), data = cluster), vcov = 'CR2', cluster = cluster$cl, test = 'Satterthwaite')")
add_case("cluster_ols_fe_stata",
         list(fn = "lm_robust", dataset = "cluster", outcome = "y", treatment = "z", control = "0",
              covariates = c("x1"), fe = "b", clusters = "cl", se_type = "stata"),
         "lm_robust(y ~ z + x1 + factor(b), clusters = cl, data = cluster, se_type = 'stata')")
for (s in c("CR0", "stata", "CR2")) {
  add_case(paste0("cluster_wls_", s),
           list(fn = "lm_robust", dataset = "cluster", outcome = "y", treatment = "z", control = "0",
                covariates = c("x1"), clusters = "cl", weights = "w", se_type = s),
           sprintf("lm_robust(y ~ z + x1, clusters = cl, weights = w, data = cluster, se_type = '%s')", s))
}
add_case("cluster_arm3_ols_CR2",
         list(fn = "lm_robust", dataset = "cluster", outcome = "y3", treatment = "arm3", control = "control",
              covariates = c("x1"), clusters = "cl", se_type = "CR2"),
         "lm_robust(y3 ~ arm3 + x1, clusters = cl, data = cluster, se_type = 'CR2')")
add_case("cluster_lin_CR2",
         list(fn = "lm_lin", dataset = "cluster", outcome = "y", treatment = "z", control = "0",
              covariates = c("x1"), clusters = "cl", se_type = "CR2"),
         "lm_lin(y ~ z, covariates = ~ x1, clusters = cl, data = cluster, se_type = 'CR2')")
add_case("cluster_lin_stata",
         list(fn = "lm_lin", dataset = "cluster", outcome = "y", treatment = "z", control = "0",
              covariates = c("x1"), clusters = "cl", se_type = "stata"),
         "lm_lin(y ~ z, covariates = ~ x1, clusters = cl, data = cluster, se_type = 'stata')")
add_case("cluster_dim",
         list(fn = "difference_in_means", dataset = "cluster", outcome = "y", treatment = "z", control = "0",
              arm = "1", clusters = "cl"),
         "difference_in_means(y ~ z, clusters = cl, data = cluster)")
add_case("cluster_dim_blocked",
         list(fn = "difference_in_means", dataset = "cluster", outcome = "y", treatment = "z", control = "0",
              arm = "1", clusters = "cl", blocks = "b"),
         "difference_in_means(y ~ z, clusters = cl, blocks = b, data = cluster)")
add_case("cluster_coef_test_CR2",
         list(fn = "coef_test", dataset = "cluster", outcome = "y", treatment = "z", control = "0",
              covariates = c("x1"), clusters = "cl", se_type = "CR2"),
         "coef_test(lm(y ~ z + x1, data = cluster), vcov = 'CR2', cluster = cluster$cl, test = 'Satterthwaite')")
add_case("cluster_coef_test_fe_CR2",
         list(fn = "coef_test", dataset = "cluster", outcome = "y", treatment = "z", control = "0",
              covariates = c("x1"), fe = "b", clusters = "cl", se_type = "CR2"),
         "coef_test(lm(y ~ z + x1 + factor(b), data = cluster), vcov = 'CR2', cluster = cluster$cl, test = 'Satterthwaite')")
add_case("cluster_coef_test_wls_CR2",
         list(fn = "coef_test", dataset = "cluster", outcome = "y", treatment = "z", control = "0",
              covariates = c("x1"), clusters = "cl", weights = "w", se_type = "CR2"),
         "coef_test(lm(y ~ z + x1, weights = w, data = cluster), vcov = 'CR2', cluster = cluster$cl, test = 'Satterthwaite')")
add_case("cluster_coef_test_arm3_CR2",
         list(fn = "coef_test", dataset = "cluster", outcome = "y3", treatment = "arm3", control = "control",
              covariates = c("x1"), clusters = "cl", se_type = "CR2"),
         "coef_test(lm(y3 ~ arm3 + x1, data = cluster), vcov = 'CR2', cluster = cluster$cl, test = 'Satterthwaite')")

# pairs
add_case("pairs_dim_matched",
         list(fn = "difference_in_means", dataset = "pairs", outcome = "y", treatment = "z", control = "0",
              arm = "1", blocks = "pair"),
         "difference_in_means(y ~ z, blocks = pair, data = pairs)")
add_case("pairs_ols_fe_classical",
         list(fn = "lm_robust", dataset = "pairs", outcome = "y", treatment = "z", control = "0", fe = "pair",
              se_type = "classical"),
         "lm_robust(y ~ z + factor(pair), data = pairs, se_type = 'classical')")
add_case("cpairs_dim_matched_clustered",
         list(fn = "difference_in_means", dataset = "cpairs", outcome = "y", treatment = "z", control = "0",
              arm = "1", blocks = "pair", clusters = "cl"),
         "difference_in_means(y ~ z, blocks = pair, clusters = cl, data = cpairs)")
add_case("cpairs_ols_CR2",
         list(fn = "lm_robust", dataset = "cpairs", outcome = "y", treatment = "z", control = "0", fe = "pair",
              clusters = "cl", se_type = "CR2"),
         "lm_robust(y ~ z + factor(pair), clusters = cl, data = cpairs, se_type = 'CR2')")
add_case("mixed_dim_blocks",
         list(fn = "difference_in_means", dataset = "mixed", outcome = "y", treatment = "z", control = "0",
              arm = "1", blocks = "b"),
         "difference_in_means(y ~ z, blocks = b, data = mixed)  # warning: pairs mixed with larger blocks")

meta <- list(
  generated_by = "tests/reference/estimatr_reference.R",
  r_version = R.version.string,
  estimatr = as.character(packageVersion("estimatr")),
  clubSandwich = as.character(packageVersion("clubSandwich")),
  seed = 20240611
)
writeLines(toJSON(list(meta = meta, cases = cases), auto_unbox = TRUE, digits = NA, na = "null",
                  null = "null", pretty = TRUE),
           file.path(out_dir, "estimatr_reference.json"))
cat(sprintf("wrote %d cases\n", length(cases)))
