/*
 * DynamoDB Local on the loopback interface only, answering only the local cloud's access key.
 * Where this stands: local runtime; compiled once per machine by local/services/loopback-launcher.ts
 * and started by local/services/dynamodb-local.ts with
 * `java -cp DynamoDBLocal.jar:<compiled dir> LoopbackDynamoDbLocal <access key> <DynamoDB Local options>`.
 *
 * DynamoDB Local has no option for the interface: its server is Jetty's `new Server(port)`, which
 * listens on every interface (`*:8000`), so any machine on the network could read and write the
 * registry. This launcher builds the server exactly as DynamoDB Local's own `main` does
 * (`ServerRunner.createServerFromCommandLineArgs`, same options), then, before it starts, binds its
 * connector to 127.0.0.1 and puts a check in front of its handler: a request whose SigV4
 * `Authorization` header does not name the expected access key gets DynamoDB's own
 * `UnrecognizedClientException` (400), as DynamoDB answers an unknown key. The key is public (it
 * is printed); the check makes a stray client with other credentials fail loudly instead of
 * writing into the local registry. CORS preflights (OPTIONS) carry no credentials and go through:
 * `-cors` decides them.
 */
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public class LoopbackDynamoDbLocal {
  private static final String LOOPBACK = "127.0.0.1";

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: LoopbackDynamoDbLocal <access key> [DynamoDB Local options]");
      System.exit(2);
    }
    String accessKey = args[0];
    DynamoDBProxyServer proxy =
        ServerRunner.createServerFromCommandLineArgs(Arrays.copyOfRange(args, 1, args.length));
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    for (Connector connector : server.getConnectors()) {
      ((ServerConnector) connector).setHost(LOOPBACK);
    }
    server.setHandler(new AccessKeyCheck(accessKey, server.getHandler()));
    proxy.start();
    System.out.println("DynamoDB Local listening on " + LOOPBACK + " (access key " + accessKey + ")");
  }

  /** Refuses a request signed with another access key (or unsigned) before DynamoDB Local sees it. */
  static final class AccessKeyCheck extends Handler.Wrapper {
    private final String credentialPrefix;

    AccessKeyCheck(String accessKey, Handler inner) {
      super(inner);
      this.credentialPrefix = "Credential=" + accessKey + "/";
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
      if (!"OPTIONS".equals(request.getMethod())) {
        String authorization = request.getHeaders().get("Authorization");
        if (authorization == null || !authorization.contains(credentialPrefix)) {
          String body =
              "{\"__type\":\"com.amazonaws.dynamodb.v20120810#UnrecognizedClientException\","
                  + "\"message\":\"The security token included in the request is invalid: this "
                  + "DynamoDB Local answers only the local cloud's access key (env.json).\"}";
          response.setStatus(400);
          response.getHeaders().put("Content-Type", "application/x-amz-json-1.0");
          response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
          return true;
        }
      }
      return super.handle(request, response, callback);
    }
  }
}
