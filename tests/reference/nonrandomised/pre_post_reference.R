# Paired pre/post reference: Student's (1908) sleep data (R's datasets::sleep), extra hours of sleep of
# ten patients under two drugs, read here as the same people measured at wave 0 and wave 1.
# Run: Rscript pre_post_reference.R  (writes sleep.csv and pre_post_reference.json)
suppressMessages(library(jsonlite))
d <- data.frame(person = paste0("p", as.integer(sleep$ID)), wave = as.integer(sleep$group) - 1L, extra = sleep$extra)
write.csv(d, "sleep.csv", row.names = FALSE)
post <- d$extra[d$wave == 1]; pre <- d$extra[d$wave == 0]
tt <- t.test(post, pre, paired = TRUE)
out <- list(source = "Student (1908) Biometrika 6:1-25; R datasets::sleep; stats::t.test(paired = TRUE)",
            change = unname(tt$estimate), statistic = unname(tt$statistic), df = unname(tt$parameter),
            p_value = tt$p.value, ci = unname(as.numeric(tt$conf.int)), std_error = unname(tt$stderr),
            mean_pre = mean(pre), mean_post = mean(post), r_version = R.version.string)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "pre_post_reference.json")
