# Reference values for bitframe.analyse.bookkeeping.
#
# Run from the repository root:  Rscript tests/reference/bookkeeping_reference.R
# Sources (outside bitframe):
#   * sample-ratio mismatch: stats::chisq.test(x, p = ...) (Pearson goodness of fit);
#     Fabijan et al. (2019) "Diagnosing sample ratio mismatch in online controlled experiments", KDD.
#   * attrition: stats::chisq.test(table, correct = FALSE) and stats::fisher.test (exact r x 2);
#     What Works Clearinghouse (2020) Standards Handbook v4.1 on differential attrition.
#   * balance: standardised mean differences with pooled SD sqrt((s1^2 + s0^2) / 2); for binary
#     covariates p(1 - p) in place of s^2 -- Austin (2009) Stat Med 28:3083-3107, eqs. (1)-(2),
#     written out below in base R.
#   * CONSORT flow: counts by base R table()/tapply; Schulz, Altman & Moher (2010) BMJ 340:c332;
#     Campbell et al. (2012) BMJ 345:e5661 for cluster trials.
#   * subgroups: estimatr::lm_robust (Blair et al.) for the arm x subgroup model and
#     car::linearHypothesis (Fox & Weisberg 2019) for the joint Wald test of the interactions.
suppressPackageStartupMessages({
  library(estimatr)
  library(car)
  library(jsonlite)
})
out <- "tests/reference/bookkeeping"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
set.seed(90210)
res <- list()

# ---- sample-ratio mismatch --------------------------------------------------------------------
srm_cases <- list(
  list(name = "balanced_ok", arms = c("control", "treat"), x = c(5012, 4988), p = c(1, 1)),
  list(name = "three_arm", arms = c("control", "letter", "sms"), x = c(1000, 1100, 950), p = c(1, 1, 1)),
  list(name = "two_to_one", arms = c("control", "treat"), x = c(680, 320), p = c(2, 1)),
  list(name = "uneven_ratio", arms = c("a", "b", "c", "d"), x = c(130, 240, 118, 20), p = c(1, 2, 1, 0.2)),
  list(name = "empty_arm", arms = c("control", "treat"), x = c(40, 0), p = c(1, 1))
)
res$srm <- lapply(srm_cases, function(cs) {
  t <- suppressWarnings(chisq.test(cs$x, p = cs$p / sum(cs$p)))
  c(cs, list(statistic = unname(t$statistic), df = unname(t$parameter), p_value = t$p.value,
             expected = unname(t$expected)))
})

# ---- attrition ------------------------------------------------------------------------------
make_attr <- function(n, arms, miss_p) {
  arm <- sample(arms, n, replace = TRUE)
  y <- round(rnorm(n), 4)
  y[runif(n) < miss_p[match(arm, arms)]] <- NA
  data.frame(arm = arm, y = y)
}
attr_sets <- list(
  attr_large = make_attr(300, c("control", "letter", "sms"), c(0.10, 0.18, 0.25)),
  attr_small2 = make_attr(30, c("control", "treat"), c(0.05, 0.25)),
  attr_small3 = make_attr(40, c("control", "letter", "sms"), c(0.05, 0.15, 0.3)),
  attr_none = make_attr(50, c("control", "treat"), c(0, 0))
)
res$attrition <- lapply(names(attr_sets), function(nm) {
  d <- attr_sets[[nm]]
  write.csv(d, file.path(out, paste0(nm, ".csv")), row.names = FALSE)
  tab <- table(factor(d$arm), factor(is.na(d$y), levels = c(FALSE, TRUE)))
  ch <- suppressWarnings(chisq.test(tab, correct = FALSE))
  fi <- if (sum(tab[, 2]) > 0) fisher.test(tab) else NULL
  list(dataset = nm, arms = rownames(tab), n = unname(rowSums(tab)), n_missing = unname(tab[, 2]),
       chisq_statistic = unname(ch$statistic), chisq_df = unname(ch$parameter), chisq_p = ch$p.value,
       min_expected = min(ch$expected), fisher_p = if (is.null(fi)) NULL else fi$p.value)
})

# exact r x 2 Fisher tests on fixed tables (rows: arms; columns: observed, missing)
fisher_tables <- list(
  matrix(c(20, 18, 22, 19, 1, 4, 0, 6), ncol = 2),
  matrix(c(8, 9, 10, 7, 9, 2, 0, 1, 3, 0), ncol = 2),
  matrix(c(5, 5, 1, 1), ncol = 2),
  matrix(c(30, 25, 28, 2, 2, 2), ncol = 2),
  matrix(c(3, 12, 6, 4, 9, 1), ncol = 2)
)
res$fisher <- lapply(fisher_tables, function(t) list(table = t, p_value = fisher.test(t)$p.value))

# ---- balance --------------------------------------------------------------------------------
n <- 240
bal <- data.frame(
  arm = sample(c("control", "letter", "sms"), n, replace = TRUE, prob = c(0.4, 0.3, 0.3)),
  age = round(rnorm(n, 45, 12), 1),
  female = rbinom(n, 1, 0.55),
  region = sample(c("north", "south", "east"), n, replace = TRUE),
  income = round(rlnorm(n, 10, 0.5))
)
bal$age[sample(n, 9)] <- NA
bal$region[sample(n, 4)] <- NA
write.csv(bal, file.path(out, "balance.csv"), row.names = FALSE)
bin_sd <- function(v) { p <- mean(v); sqrt(p * (1 - p)) }
vars <- list(age = list(v = bal$age, binary = FALSE), female = list(v = bal$female, binary = TRUE),
             `region[east]` = list(v = as.numeric(bal$region == "east"), binary = TRUE),
             `region[north]` = list(v = as.numeric(bal$region == "north"), binary = TRUE),
             `region[south]` = list(v = as.numeric(bal$region == "south"), binary = TRUE),
             income = list(v = bal$income, binary = FALSE))
brow <- list()
for (nm in names(vars)) {
  v <- vars[[nm]]$v; isb <- vars[[nm]]$binary
  stats <- lapply(c("control", "letter", "sms"), function(a) {
    va <- v[bal$arm == a]; ok <- va[!is.na(va)]
    list(arm = a, n = length(ok), n_missing = sum(is.na(va)), mean = mean(ok),
         sd = if (isb) bin_sd(ok) else sd(ok))
  })
  s0 <- stats[[1]]
  for (s in stats) {
    smd <- if (s$arm == "control") NA else (s$mean - s0$mean) / sqrt((s$sd^2 + s0$sd^2) / 2)
    brow[[length(brow) + 1]] <- c(list(covariate = nm, binary = isb), s, list(smd = smd))
  }
}
res$balance <- brow

# ---- CONSORT flow ---------------------------------------------------------------------------
G <- 24
cons <- data.frame(cluster = sprintf("s%02d", rep(seq_len(G), sample(3:12, G, replace = TRUE))))
cl_arm <- setNames(sample(rep(c("control", "poster", "sms"), length.out = G)), sprintf("s%02d", seq_len(G)))
cons$arm <- cl_arm[cons$cluster]
cons$received <- ifelse(cons$arm == "control", 0, rbinom(nrow(cons), 1, 0.8))
cons$y <- round(rnorm(nrow(cons)), 3)
cons$y[runif(nrow(cons)) < 0.15] <- NA
# one whole cluster lost to follow-up
cons$y[cons$cluster == cons$cluster[1]] <- NA
write.csv(cons, file.path(out, "consort.csv"), row.names = FALSE)
arms <- sort(unique(cons$arm))
res$consort <- lapply(arms, function(a) {
  d <- cons[cons$arm == a, ]
  list(arm = a, allocated = nrow(d), received = sum(d$received == 1), not_received = sum(d$received == 0),
       lost_to_follow_up = sum(is.na(d$y)), analysed = sum(!is.na(d$y)),
       clusters_allocated = length(unique(d$cluster)),
       clusters_analysed = length(unique(d$cluster[!is.na(d$y)])))
})

# ---- subgroup effects -----------------------------------------------------------------------
n <- 450
sub <- data.frame(
  arm = sample(c("control", "letter", "sms"), n, replace = TRUE),
  grp = sample(c("older", "younger", "middle"), n, replace = TRUE, prob = c(0.3, 0.3, 0.4)),
  x = round(rnorm(n), 4),
  cluster = sprintf("h%02d", sample(45, n, replace = TRUE))
)
eff <- c(control = 0, letter = 0.2, sms = 0.4)[sub$arm] * c(older = 1.5, middle = 1, younger = 0.3)[sub$grp]
sub$y <- round(1 + eff + 0.5 * sub$x + rnorm(45, 0, 0.3)[as.integer(factor(sub$cluster))] + rnorm(n), 5)
write.csv(sub, file.path(out, "subgroup.csv"), row.names = FALSE)
sub$arm <- relevel(factor(sub$arm), ref = "control")
sub$grp <- factor(sub$grp)  # levels sorted: middle, older, younger
sub2 <- sub[sub$arm != "sms" & sub$grp != "middle", ]
sub2$arm <- droplevels(sub2$arm); sub2$grp <- droplevels(sub2$grp)
sg_cases <- list(
  list(case = "sg3_HC2", data = "sub", cov = FALSE, se = "HC2", clustered = FALSE),
  list(case = "sg3_x_HC2", data = "sub", cov = TRUE, se = "HC2", clustered = FALSE),
  list(case = "sg3_x_HC1", data = "sub", cov = TRUE, se = "HC1", clustered = FALSE),
  list(case = "sg3_x_classical", data = "sub", cov = TRUE, se = "classical", clustered = FALSE),
  list(case = "sg3_x_stata", data = "sub", cov = TRUE, se = "stata", clustered = TRUE),
  list(case = "sg3_x_CR2", data = "sub", cov = TRUE, se = "CR2", clustered = TRUE),
  list(case = "sg2_HC2", data = "sub2", cov = FALSE, se = "HC2", clustered = FALSE)
)
sets <- list(sub = sub, sub2 = sub2)
res$subgroup <- lapply(sg_cases, function(cs) {
  d <- sets[[cs$data]]
  rhs <- if (cs$cov) "arm * grp + x" else "arm * grp"
  f <- as.formula(paste("y ~", rhs))
  fit <- if (cs$clustered) lm_robust(f, data = d, clusters = cluster, se_type = cs$se)
         else lm_robust(f, data = d, se_type = cs$se)
  inter <- grep(":", names(coef(fit)), value = TRUE)
  lhF <- linearHypothesis(fit, inter, test = "F")
  lhC <- linearHypothesis(fit, inter, test = "Chisq")
  q <- length(inter)
  Fstat <- lhF$F[2]
  G <- length(unique(d$cluster))
  df2 <- if (cs$clustered) G - 1 else fit$df.residual
  # per-level effects from the nested parametrisation: y ~ 0 + grp + grp:armdummies (+ x)
  arms <- setdiff(levels(d$arm), "control")
  for (a in arms) for (g in levels(d$grp)) d[[paste0("e_", a, "_", g)]] <- as.numeric(d$arm == a & d$grp == g)
  ecols <- grep("^e_", names(d), value = TRUE)
  f2 <- as.formula(paste("y ~ 0 + grp +", paste(ecols, collapse = " + "), if (cs$cov) "+ x" else ""))
  fit2 <- if (cs$clustered) lm_robust(f2, data = d, clusters = cluster, se_type = cs$se)
          else lm_robust(f2, data = d, se_type = cs$se)
  tt <- tidy(fit2)
  tt <- tt[tt$term %in% ecols, ]
  parts <- do.call(rbind, strsplit(sub("^e_", "", tt$term), "_"))
  list(case = cs$case, dataset = cs$data, covariates = cs$cov, se_type = cs$se, clustered = cs$clustered,
       n_interactions = q, wald_chisq = lhC$Chisq[2], wald_chisq_p = lhC$`Pr(>Chisq)`[2],
       wald_F = Fstat, wald_df2 = df2, wald_F_p = pf(Fstat, q, df2, lower.tail = FALSE),
       car_F_df2 = lhF$Res.Df[2], car_F_p = lhF$`Pr(>F)`[2],
       effects = data.frame(arm = parts[, 1], level = parts[, 2], estimate = tt$estimate,
                            std_error = tt$std.error, statistic = tt$statistic, df = tt$df,
                            p_value = tt$p.value, ci_lower = tt$conf.low, ci_upper = tt$conf.high))
})
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           file.path(out, "bookkeeping_results.json"))
cat("done\n")
