package pcc.interop;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * One long-running JVM per test binary: reads one JSON request per line on stdin, answers one JSON
 * line per request on stdout, tagged with the request's {@code id}. Requests run concurrently (the
 * tests of a binary run in parallel threads), so answers may come out of order.
 *
 * <pre>
 * {"id":1,"op":"flyway","action":"migrate","config":{"flyway.url":"jdbc:...","flyway.password":"..."}}
 * {"id":2,"op":"jdbc","url":"jdbc:postgresql://h/db"}
 * {"id":3,"op":"jdbc_connect","url":"jdbc:postgresql://a,b/db?targetServerType=secondary","user":"u","password":"..."}
 * {"id":4,"op":"version"}
 * </pre>
 *
 * Credentials arrive on stdin only, never as arguments. Anything Flyway or the driver prints goes
 * to stderr: stdout carries nothing but answers.
 */
public final class Harness {
  static final ObjectMapper JSON = new ObjectMapper();

  private Harness() {}

  public static void main(String[] args) throws Exception {
    PrintStream answers = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    System.setOut(System.err);
    ExecutorService pool = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "request");
      t.setDaemon(true);
      return t;
    });
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) {
        continue;
      }
      JsonNode request = JSON.readTree(line);
      pool.submit(() -> answer(request, answers));
    }
    // stdin closed: no more requests. Let running ones answer (a bounded wait: when the test binary
    // is gone their answers have nowhere to go anyway).
    pool.shutdown();
    pool.awaitTermination(60, TimeUnit.SECONDS);
    System.exit(0);
  }

  private static void answer(JsonNode request, PrintStream answers) {
    ObjectNode reply = JSON.createObjectNode();
    reply.set("id", request.get("id"));
    try {
      JsonNode result = switch (request.path("op").asString("")) {
        case "flyway" -> FlywayOps.run(request.path("action").asString(""), request.path("config"));
        case "jdbc" -> JdbcUrls.parse(request.path("url").asString(""));
        case "jdbc_connect" -> JdbcUrls.connect(request.path("url").asString(""),
            request.path("user").asString(""), request.path("password").asString(""));
        case "version" -> FlywayOps.versions();
        default -> throw new IllegalArgumentException("unknown op " + request.path("op"));
      };
      reply.put("ok", true);
      reply.set("result", result);
    } catch (Throwable e) {
      reply.put("ok", false);
      reply.set("error", FlywayOps.describe(e));
    }
    String text = JSON.writeValueAsString(reply);
    synchronized (answers) {
      answers.println(text);
    }
  }
}
